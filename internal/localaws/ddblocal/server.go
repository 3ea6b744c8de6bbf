package ddblocal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ddbsync/ddbsync/internal/localaws/proc"
)

// Defaults and fixed values for [Start] and the client helpers.
const (
	// DefaultStartTimeout bounds the wait for a started server to answer
	// (see [proc.DefaultStartTimeout]).
	DefaultStartTimeout = proc.DefaultStartTimeout
	// Region is the region the client helpers use. DynamoDB Local keeps one
	// database per access key id and region.
	Region = "us-east-1"
	// SecretAccessKey is the secret the client helpers use; DynamoDB Local
	// accepts any.
	SecretAccessKey = "secret"

	tableWaitTimeout = 30 * time.Second
)

// Options configures [Start].
type Options struct {
	// Dir is the install directory; empty means [DefaultDir].
	Dir string
	// Stderr, if set, also receives the server's stdout and stderr as they
	// are written. [Server.Logs] has them either way.
	Stderr io.Writer
	// StartTimeout bounds the wait for the server to answer HTTP; zero means
	// [DefaultStartTimeout].
	StartTimeout time.Duration
	// Port, if not zero, is the 127.0.0.1 port to listen on; zero picks a
	// free one.
	Port int
}

// Server is a running DynamoDB Local, in memory, listening on 127.0.0.1.
type Server struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT".
	Endpoint string

	proc *proc.Process
}

// Start installs DynamoDB Local if needed (see [Install]) and starts it
// with -inMemory on a free 127.0.0.1 port, in its own process group. It
// returns once the server answers HTTP. ctx bounds the install and the
// start only: the server runs until [Server.Close].
//
// On failure the error includes the server's output.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir, err := Install(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("find tools: java not on PATH: %w", err)
	}
	var fixed []int
	if opts.Port != 0 {
		fixed = []int{opts.Port}
	}
	p, err := proc.Start(ctx, proc.Spec{
		Name:       "dynamodb local",
		Ports:      1,
		FixedPorts: fixed,
		Command: func(ports []int) (*exec.Cmd, error) {
			cmd := exec.Command(java,
				// DynamoDB Local lives for seconds to minutes here: compiling it with
				// C2 costs more CPU than it saves (measured: half the CPU of a demo
				// run), and one GC thread is enough.
				"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
				"-Djava.library.path="+filepath.Join(dir, libDirName),
				"-cp", filepath.Join(dir, jarName)+string(filepath.ListSeparator)+filepath.Join(dir, classesDir),
				mainClass, "-inMemory", "-disableTelemetry", "-port", strconv.Itoa(ports[0]))
			cmd.Dir = dir // it writes dynamodb-local-metadata.json to its working directory
			return cmd, nil
		},
		Ready:        httpReady,
		PortTaken:    "Address already in use",
		StartTimeout: opts.StartTimeout,
		Stderr:       opts.Stderr,
	})
	if err != nil {
		return nil, err
	}
	return &Server{Endpoint: endpoint(p.Ports[0]), proc: p}, nil
}

// endpoint returns the base URL of a server on port.
func endpoint(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// probeClient is the readiness probe's HTTP client.
var probeClient = &http.Client{Timeout: time.Second}

// httpReady succeeds once the server gives any HTTP response.
func httpReady(ctx context.Context, ports []int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(ports[0])+"/", nil)
	if err != nil {
		return fmt.Errorf("build probe request: %w", err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Close kills the server's process group and waits for it to exit. It
// returns an error if the server had already exited on its own. It is safe
// to call more than once.
func (s *Server) Close() error { return s.proc.Close() }

// Logs returns everything the server has written to stdout and stderr.
func (s *Server) Logs() string { return s.proc.Logs() }

// AWSConfig returns an SDK config for this server: region [Region] and
// static credentials (accessKeyID, [SecretAccessKey]). It sets no endpoint;
// [Server.DynamoDB] and [Server.Streams] do.
//
// Without -sharedDb DynamoDB Local keeps a separate database per access key
// id and region. Give each test its own non-empty accessKeyID (see
// testkit.AccessKeyID) so that tests do not see each other's tables, and so that stream
// records left by earlier tests do not slow down writes to stream-enabled
// tables, which they do in one database.
func (s *Server) AWSConfig(accessKeyID string) aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, SecretAccessKey, ""),
	}
}

// DynamoDB returns a DynamoDB client for this server's database of
// accessKeyID (see [Server.AWSConfig]). It does not validate the CRC32
// response checksum, which DynamoDB Local leaves out of error responses.
func (s *Server) DynamoDB(accessKeyID string) *dynamodb.Client {
	return dynamodb.NewFromConfig(s.AWSConfig(accessKeyID), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.DisableValidateResponseChecksum = true
	})
}

// Streams returns a DynamoDB Streams client for this server's database of
// accessKeyID (see [Server.AWSConfig]).
func (s *Server) Streams(accessKeyID string) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(s.AWSConfig(accessKeyID), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
	})
}

// Env returns environment variables ("KEY=value") that point a child
// process's SDK clients at this server's database of accessKeyID. Both
// DynamoDB and DynamoDB Streams endpoints are set: with only the first, a
// Streams client would go to AWS.
func (s *Server) Env(accessKeyID string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.Endpoint,
		"AWS_ENDPOINT_URL_DYNAMODB_STREAMS=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// TableSpec describes a table for [CreateTable].
type TableSpec struct {
	// Name is the table name.
	Name string
	// HashKey is the partition key attribute name.
	HashKey string
	// HashType is the partition key type: "S", "N" or "B"; empty means "S".
	HashType types.ScalarAttributeType
	// RangeKey is the sort key attribute name; empty means no sort key.
	RangeKey string
	// RangeType is the sort key type: "S", "N" or "B"; empty means "S".
	RangeType types.ScalarAttributeType
	// StreamViewType enables a stream with this view type
	// (NEW_AND_OLD_IMAGES, ...); empty means no stream.
	StreamViewType types.StreamViewType
	// IndexKey, if set, adds a global secondary index (IndexKey-index)
	// keyed on this S attribute: the table then refuses items whose
	// IndexKey is of another type.
	IndexKey string
}

// CreateTable creates an on-demand (PAY_PER_REQUEST) table, waits until it
// is ACTIVE and returns its stream ARN, or "" if it has no stream.
func CreateTable(ctx context.Context, client *dynamodb.Client, in TableSpec) (string, error) {
	attr := func(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
		if typ == "" {
			typ = types.ScalarAttributeTypeS
		}
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
	}
	input := &dynamodb.CreateTableInput{
		TableName:            aws.String(in.Name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr(in.HashKey, in.HashType)},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(in.HashKey), KeyType: types.KeyTypeHash},
		},
	}
	if in.RangeKey != "" {
		input.AttributeDefinitions = append(input.AttributeDefinitions, attr(in.RangeKey, in.RangeType))
		input.KeySchema = append(input.KeySchema,
			types.KeySchemaElement{AttributeName: aws.String(in.RangeKey), KeyType: types.KeyTypeRange})
	}
	if in.IndexKey != "" {
		input.AttributeDefinitions = append(input.AttributeDefinitions, attr(in.IndexKey, types.ScalarAttributeTypeS))
		input.GlobalSecondaryIndexes = []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(in.IndexKey + "-index"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String(in.IndexKey), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}}
	}
	if in.StreamViewType != "" {
		input.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: in.StreamViewType,
		}
	}
	out, err := client.CreateTable(ctx, input)
	if err != nil {
		return "", fmt.Errorf("create table %s: %w", in.Name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(in.Name)}, tableWaitTimeout); err != nil {
		return "", fmt.Errorf("wait for table %s: %w", in.Name, err)
	}
	return aws.ToString(out.TableDescription.LatestStreamArn), nil
}
