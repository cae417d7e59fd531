// Package logtest is test support: a log sink that a logger's goroutines
// and the test reading it can share under the race detector.
package logtest

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writes and reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Count is how many JSON log lines so far carry the message msg.
func (l *Buffer) Count(msg string) int {
	return strings.Count(l.String(), `"msg":"`+msg+`"`)
}

// Reset drops what was written so far, so a failing case shows only its own
// lines.
func (l *Buffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}
