package redrive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/ddbsync/ddbsync/internal/atomicfile"
)

// DoneSuffix is appended to a failure file's name to name the file that
// receives its lines once redriven.
const DoneSuffix = ".done"

// ErrFileChanged is returned by [FileSource.Close] when the failure file
// was changed during the redrive other than by appending to it.
var ErrFileChanged = errors.New("failure file changed during redrive")

// FileSource reads a failure file as ddbsync run writes it: one on-failure
// record per line. Close rewrites the file atomically without the lines
// done, keeping the lines appended to it meanwhile, after appending the
// lines done to FILE.done; the file is never deleted. A crash between the
// two leaves a line in both files: redriving it again is harmless.
// OpenFile locks the file until Close, and is refused while ddbsync run
// has it open for appending (atomicfile.OpenAppend), whose later records
// would otherwise go to the replaced file.
type FileSource struct {
	path  string
	lock  *os.File // held from OpenFile to Close
	data  []byte   // the content read
	lines [][]byte // lines of data, each with its newline
	done  []bool
	next  int
}

var _ Source = (*FileSource)(nil)

// OpenFile locks and reads the failure file at path. The error wraps
// os.ErrNotExist when there is none, and atomicfile.ErrLocked while a
// ddbsync run is writing it.
func OpenFile(path string) (*FileSource, error) {
	lock, err := atomicfile.TryLock(path)
	if errors.Is(err, atomicfile.ErrLocked) {
		return nil, fmt.Errorf("failure file %s: %w: a ddbsync run is still writing it; stop that run first", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read failure file: %w", err)
	}
	data, err := io.ReadAll(lock)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("read failure file: %w", err)
	}
	f := &FileSource{path: path, data: data, lock: lock}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			line = append(line[:len(line):len(line)], '\n')
		}
		f.lines = append(f.lines, line)
	}
	f.done = make([]bool, len(f.lines))
	return f, nil
}

// Len returns the number of records (non-blank lines) in the file.
func (f *FileSource) Len() int { return len(f.lines) }

// Next returns the next non-blank line.
func (f *FileSource) Next(context.Context) (Message, error) {
	if f.next >= len(f.lines) {
		return Message{}, io.EOF
	}
	i := f.next
	f.next++
	return Message{Body: f.lines[i], Where: "line " + strconv.Itoa(i+1), line: i}, nil
}

// Done marks m's line to move to FILE.done on Close.
func (f *FileSource) Done(_ context.Context, m Message) error {
	f.done[m.line] = true
	return nil
}

// Keep leaves m's line in the file.
func (f *FileSource) Keep(_ context.Context, m Message) error {
	f.done[m.line] = false
	return nil
}

// Close writes the decisions: with no line done it changes nothing.
// Otherwise it appends the lines done to FILE.done, then rewrites the
// file with the others and what was appended to it since OpenFile. If the
// file changed otherwise meanwhile, it is left as is and Close returns
// ErrFileChanged: its lines will be redriven again, which is harmless.
func (f *FileSource) Close(context.Context) error {
	if f.lock != nil {
		defer f.lock.Close() // after the rename: the lock is on the file read
	}
	if !slices.Contains(f.done, true) {
		return nil
	}
	now, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("reread failure file: %w", err)
	}
	if !bytes.HasPrefix(now, f.data) {
		return fmt.Errorf("%w: %s left as is", ErrFileChanged, f.path)
	}
	added := now[len(f.data):]
	// A last line read without its newline was being written: it goes on
	// in what was added, and stays.
	partial := len(f.lines) > 0 && len(added) > 0 && !bytes.HasSuffix(f.data, []byte("\n"))
	var done, kept bytes.Buffer
	for i, line := range f.lines {
		switch {
		case partial && i == len(f.lines)-1:
			kept.Write(line[:len(line)-1])
		case f.done[i]:
			done.Write(line)
		default:
			kept.Write(line)
		}
	}
	kept.Write(added)
	if done.Len() > 0 {
		if err := atomicfile.Append(f.path+DoneSuffix, done.Bytes()); err != nil {
			return fmt.Errorf("save redriven lines: %w", err)
		}
	}
	if err := atomicfile.WriteFile(f.path, kept.Bytes()); err != nil {
		return fmt.Errorf("rewrite failure file: %w", err)
	}
	return nil
}
