// Package codestatustest is an in-process stand-in for the two AWS APIs
// package codestatus calls, for tests: CloudFormation ListStackResources
// (query protocol: a form POST with Action=ListStackResources, answered in
// XML) and Lambda GetFunction (REST-JSON: GET /2015-03-31/functions/{name}).
// It also serves each function's zip at the URL it returns as
// Code.Location, as S3 does with a presigned URL.
//
// One Server stands for every region: it reads the region from the SigV4
// credential scope of each request, so real SDK clients for several
// regions can share its URL as BaseEndpoint (or AWS_ENDPOINT_URL_*).
package codestatustest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

// PageSize is how many resources one ListStackResources page holds, small
// so that tests go through the SDK paginator.
const PageSize = 2

// Resource is a stack resource.
type Resource struct {
	LogicalID, PhysicalID, Type, Status string
}

// Function is a deployed Lambda function.
type Function struct {
	// Architecture is "arm64" or "x86_64".
	Architecture string
	Description  string
	Env          map[string]string
	// Zip is the deployment package.
	Zip []byte
}

// Server is the stand-in. Set its fields before the first request.
type Server struct {
	URL string

	mu        sync.Mutex
	stacks    map[string]map[string][]Resource // region → stack → resources
	functions map[string]map[string]Function   // region → name → function
	denied    map[string]bool                  // region → GetFunction answers AccessDenied
	corrupt   map[string]bool                  // function name → zip served with a byte flipped
	downloads int
}

// Start starts a Server; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		stacks:    map[string]map[string][]Resource{},
		functions: map[string]map[string]Function{},
		denied:    map[string]bool{},
		corrupt:   map[string]bool{},
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// AddStack adds a stack in region.
func (s *Server) AddStack(region, stack string, resources ...Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stacks[region] == nil {
		s.stacks[region] = map[string][]Resource{}
	}
	s.stacks[region][stack] = resources
}

// AddFunction deploys a function in region.
func (s *Server) AddFunction(region, name string, fn Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.functions[region] == nil {
		s.functions[region] = map[string]Function{}
	}
	s.functions[region][name] = fn
}

// DenyGetFunction makes GetFunction answer AccessDeniedException in region.
func (s *Server) DenyGetFunction(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[region] = true
}

// CorruptDownload serves the named function's zip with one byte changed.
func (s *Server) CorruptDownload(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt[name] = true
}

// Downloads returns how many zips were downloaded.
func (s *Server) Downloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downloads
}

var (
	credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)
	functionPath    = regexp.MustCompile(`^/2015-03-31/functions/([^/]+)$`)
	codePath        = regexp.MustCompile(`^/code/([a-z0-9-]+)/([^/]+)$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := codePath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		s.serveCode(w, m[1], m[2])
		return
	}
	scope := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if scope == nil {
		http.Error(w, "unsigned request", http.StatusForbidden)
		return
	}
	region, service := scope[1], scope[2]
	switch {
	case service == "cloudformation" && r.Method == http.MethodPost:
		s.serveCloudFormation(w, r, region)
	case service == "lambda" && r.Method == http.MethodGet && functionPath.MatchString(r.URL.Path):
		s.serveGetFunction(w, region, functionPath.FindStringSubmatch(r.URL.Path)[1])
	default:
		http.Error(w, "not a call the stand-in knows: "+service+" "+r.Method+" "+r.URL.Path, http.StatusNotImplemented)
	}
}

// serveCloudFormation answers ListStackResources in the query protocol.
func (s *Server) serveCloudFormation(w http.ResponseWriter, r *http.Request, region string) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "ListStackResources" {
		queryError(w, http.StatusBadRequest, "InvalidAction", "the stand-in answers only ListStackResources")
		return
	}
	stack := r.PostForm.Get("StackName")
	resources, ok := s.stacks[region][stack]
	if !ok {
		queryError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("Stack with id %s does not exist", stack))
		return
	}
	start := 0
	if tok := r.PostForm.Get("NextToken"); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	end := min(start+PageSize, len(resources))
	type member struct {
		LogicalResourceID    string `xml:"LogicalResourceId"`
		PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
		ResourceType         string `xml:"ResourceType"`
		ResourceStatus       string `xml:"ResourceStatus"`
		LastUpdatedTimestamp string `xml:"LastUpdatedTimestamp"`
	}
	var page struct {
		XMLName   xml.Name `xml:"ListStackResourcesResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Summaries []member `xml:"ListStackResourcesResult>StackResourceSummaries>member"`
		NextToken string   `xml:"ListStackResourcesResult>NextToken,omitempty"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	page.Xmlns = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
	page.RequestID = "standin"
	for _, res := range resources[start:end] {
		page.Summaries = append(page.Summaries, member{res.LogicalID, res.PhysicalID, res.Type, res.Status, "2026-11-27T00:00:00Z"})
	}
	if end < len(resources) {
		page.NextToken = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(page)
}

func queryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">`+
		`<Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>standin</RequestId></ErrorResponse>`,
		code, xmlEscape(message))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// serveGetFunction answers GetFunction in REST-JSON.
func (s *Server) serveGetFunction(w http.ResponseWriter, region, name string) {
	if s.denied[region] {
		lambdaError(w, http.StatusForbidden, "AccessDeniedException", "not authorized to perform: lambda:GetFunction")
		return
	}
	fn, ok := s.functions[region][name]
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	cfg := map[string]any{
		"FunctionName":  name,
		"FunctionArn":   fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s", region, name),
		"Runtime":       "provided.al2023",
		"Handler":       artifact.Bootstrap,
		"CodeSha256":    artifact.CodeSHA256(fn.Zip),
		"CodeSize":      len(fn.Zip),
		"Description":   fn.Description,
		"Architectures": []string{fn.Architecture},
		"PackageType":   "Zip",
	}
	if fn.Env != nil {
		cfg["Environment"] = map[string]any{"Variables": fn.Env}
	}
	body := map[string]any{
		"Configuration": cfg,
		"Code": map[string]string{
			"RepositoryType": "S3",
			"Location":       fmt.Sprintf("%s/code/%s/%s?X-Amz-Signature=standin", s.URL, region, name),
		},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func lambdaError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", errType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": message})
}

func (s *Server) serveCode(w http.ResponseWriter, region, name string) {
	fn, ok := s.functions[region][name]
	if !ok {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	s.downloads++
	body := append([]byte(nil), fn.Zip...)
	if s.corrupt[name] && len(body) > 0 {
		body[len(body)-1] ^= 0xff
	}
	w.Header().Set("Content-Type", "application/zip")
	_, _ = w.Write(body)
}
