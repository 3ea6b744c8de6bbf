package codestatus

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"net/http"

	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

// Size limits for deployed code, from Lambda's quotas
// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
// a zip deployed through S3 unzips to at most 250 MB.
const (
	maxZipBytes       = 250 << 20
	maxBootstrapBytes = 250 << 20
)

// errNoBootstrap means the deployed zip has no bootstrap at its root.
var errNoBootstrap = errors.New("the deployed zip has no " + artifact.Bootstrap)

// deployedBootstrap returns the bootstrap the function runs. When the local
// build, zipped by artifact.Zip, has the deployed CodeSha256, it is that
// build; otherwise the zip is downloaded from the code location and
// checked against CodeSha256.
func (c *Checker) deployedBootstrap(ctx context.Context, codeSHA256 string, loc *lambdatypes.FunctionCodeLocation, local []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := artifact.Zip(&buf, artifact.Bootstrap, local); err != nil {
		return nil, err
	}
	if artifact.CodeSHA256(buf.Bytes()) == codeSHA256 {
		return local, nil
	}
	if loc == nil || loc.Location == nil {
		if loc != nil && loc.ImageUri != nil {
			return nil, errors.New("a container image function: only zip functions are compared")
		}
		return nil, errors.New("get function: no code location")
	}
	pkg, err := c.download(ctx, *loc.Location)
	if err != nil {
		return nil, err
	}
	if got := artifact.CodeSHA256(pkg); got != codeSHA256 {
		return nil, fmt.Errorf("downloaded code has CodeSha256 %s, Lambda reports %s", got, codeSHA256)
	}
	return unzipBootstrap(pkg)
}

func (c *Checker) download(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("download code: %w", err)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download code: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download code: HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxZipBytes+1))
	if err != nil {
		return nil, fmt.Errorf("download code: %w", err)
	}
	if len(b) > maxZipBytes {
		return nil, fmt.Errorf("download code: larger than %d bytes", maxZipBytes)
	}
	return b, nil
}

func unzipBootstrap(pkg []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		return nil, fmt.Errorf("read deployed zip: %w", err)
	}
	for _, f := range zr.File {
		if f.Name != artifact.Bootstrap {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("open deployed %s: %w", f.Name, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxBootstrapBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read deployed %s: %w", f.Name, err)
		}
		if len(b) > maxBootstrapBytes {
			return nil, fmt.Errorf("deployed %s is larger than %d bytes", f.Name, maxBootstrapBytes)
		}
		return b, nil
	}
	return nil, errNoBootstrap
}

// explainDifference says what differs between two Go binaries, as far as
// their build information tells: the target, the toolchain or the module
// versions; else only their hashes.
func explainDifference(deployed, local []byte, lambdaArch, goarch string) string {
	dep, err := buildinfo.Read(bytes.NewReader(deployed))
	if err != nil {
		return "the deployed bootstrap is not a Go binary"
	}
	if got := setting(dep, "GOARCH"); got != goarch {
		return fmt.Sprintf("the deployed bootstrap is built for linux/%s, the function runs on %s (GOARCH %s)", got, lambdaArch, goarch)
	}
	loc, err := buildinfo.Read(bytes.NewReader(local))
	if err == nil {
		if dep.GoVersion != loc.GoVersion {
			return fmt.Sprintf("toolchains differ: deployed %s, local %s", dep.GoVersion, loc.GoVersion)
		}
		if n := differentDeps(dep, loc); n > 0 {
			return fmt.Sprintf("%d module versions differ (go.mod/go.sum)", n)
		}
	}
	return fmt.Sprintf("bootstrap sha256 deployed %s, local %s", short(sha256Hex(deployed)), short(sha256Hex(local)))
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func differentDeps(a, b *buildinfo.BuildInfo) int {
	versions := map[string]string{}
	for _, d := range a.Deps {
		versions[d.Path] = d.Version + d.Sum
	}
	n := 0
	for _, d := range b.Deps {
		if v, ok := versions[d.Path]; !ok || v != d.Version+d.Sum {
			n++
		}
		delete(versions, d.Path)
	}
	return n + len(versions)
}
