// Package rie runs a Lambda function's bootstrap binary under the AWS
// Lambda Runtime Interface Emulator (aws-lambda-rie), the program that
// `sam local invoke` runs in its container, for integration tests and the
// local demo. No container is involved: the emulator and the function run
// as plain processes on this machine.
//
// It is test harness code: nothing in the replicator imports it.
//
// # Use
//
// [Install] puts the pinned emulator ([Module]@[ModuleVersion]) in a
// git-ignored folder with `go install`, [Build] builds the function the way
// SAM does for provided.al2023 (bootstrap, lambda.norpc, CGO off), and
// [Start] runs the emulator on two free 127.0.0.1 ports. [Emulator.Invoke]
// posts one event and returns the handler's response; [Emulator.Logs] has
// the function's log lines. In tests, testkit.StartRIE does the start and stop.
//
// # Emulator behaviour
//
// The emulator forwards its whole environment to the function, so
// [Options.Env] is where the function's configuration, endpoints and
// credentials go; inherited AWS_* variables are dropped so that a
// developer's own AWS settings never reach a test. The emulator does not
// set AWS_REGION: Start sets it to us-east-1 unless Options.Env does.
// AWS_LAMBDA_FUNCTION_TIMEOUT sets the invocation deadline (300 s by
// default).
//
// A handler's returned error comes back with HTTP 200 and a body of
// {"errorMessage": ..., "errorType": ...}, which Invoke turns into a
// *lambdainvoke.FunctionError. A panic gives HTTP 502, and a timeout gives 200 with
// the text "Task timed out after ...": both are errors too.
//
// Two concurrent invocations crash the emulator, so Invoke serialises
// them. Tests that need parallel invocations start one Emulator each.
//
// The package uses process groups and Pdeathsig: it runs on Linux.
package rie
