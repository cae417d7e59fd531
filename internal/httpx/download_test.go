package httpx

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// recorderResponder is a Responder over an httptest.ResponseRecorder.
type recorderResponder struct{ w *httptest.ResponseRecorder }

func (r recorderResponder) SetHeader(name, value string) { r.w.Header().Set(name, value) }
func (r recorderResponder) SetStatus(code int)           { r.w.WriteHeader(code) }
func (r recorderResponder) BodyWriter() io.Writer        { return r.w }

func TestDownload(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	err := Download(recorderResponder{w}, "text/csv", "a.csv", func(out io.Writer) error {
		_, err := io.WriteString(out, "x,y\n")
		return err
	})
	if err != nil || w.Code != http.StatusOK || w.Body.String() != "x,y\n" || w.Header().Get("Content-Type") != "text/csv" ||
		w.Header().Get("Content-Disposition") != `attachment; filename="a.csv"` {
		t.Fatalf("download: %v %d %q %v", err, w.Code, w.Body.String(), w.Header())
	}

	// An empty file is still a file.
	w = httptest.NewRecorder()
	if err := Download(recorderResponder{w}, "text/csv", "e.csv", func(io.Writer) error { return nil }); err != nil ||
		w.Code != http.StatusOK || w.Header().Get("Content-Disposition") == "" || w.Body.Len() != 0 {
		t.Fatalf("empty download: %v %d %v", err, w.Code, w.Header())
	}
}

// TestDownloadFailureBeforeFirstByte: nothing is sent, and the error comes
// back for the caller to answer with a problem.
func TestDownloadFailureBeforeFirstByte(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	boom := errors.New("boom")
	err := Download(recorderResponder{w}, "text/csv", "a.csv", func(io.Writer) error { return boom })
	if !errors.Is(err, boom) || len(w.Header()) != 0 || w.Body.Len() != 0 {
		t.Fatalf("err %v, headers %v, body %q", err, w.Header(), w.Body.String())
	}
}

// TestDownloadFailureAfterFirstByte: the response is cut short, never
// finished as if the file were whole.
func TestDownloadFailureAfterFirstByte(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
		if w.Code != http.StatusOK || w.Body.String() != "partial" {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
	}()
	_ = Download(recorderResponder{w}, "text/csv", "a.csv", func(out io.Writer) error {
		_, _ = io.WriteString(out, "partial")
		return errors.New("database went away")
	})
	t.Fatal("Download returned after a failure mid-file")
}
