package httpx

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UploadError is an upload the client must fix (a 422 problem): Detail
// says what is wrong with the upload, Message what is wrong at Location
// ("header.Content-Type", "body", "body.file[2]"). It never holds the
// body's content.
type UploadError struct {
	Detail   string
	Location string
	Message  string
}

func (e *UploadError) Error() string { return e.Detail + ": " + e.Location + ": " + e.Message }

// TooLargeError is an upload past its size limit (a 413 problem).
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the upload is larger than %d bytes", e.Limit)
}

// SpoolError is a temporary file that could not be written: the server's
// fault, not the upload's.
type SpoolError struct{ Err error }

func (e *SpoolError) Error() string { return "spool upload: " + e.Err.Error() }
func (e *SpoolError) Unwrap() error { return e.Err }

// Spool reads a multipart/form-data upload part by part and writes each
// file part to a temporary file, so that a large upload goes to disk, not
// memory. It checks every part's name, their number and the size of the
// whole body before the caller does anything with them: a bad upload is
// refused whole. The zero value is not usable: Field, Noun, MaxBytes,
// MaxFiles and Name must be set.
type Spool struct {
	// Dir is where the temporary files go ("" for os.TempDir()), Pattern
	// their os.CreateTemp name pattern.
	Dir, Pattern string
	// Field is the form field of file parts ("file"); parts of other
	// fields are read and dropped, and still count against MaxBytes.
	Field string
	// Noun names a file in messages: "bad <Noun> name", "no <Noun> in the
	// upload".
	Noun string
	// MaxBytes bounds the whole body, multipart framing included; beyond
	// it Read fails with *TooLargeError. Bytes past it are never read.
	MaxBytes int64
	// MaxFiles bounds the file parts of one upload.
	MaxFiles int
	// Name checks a file part's name: it returns the name to keep, or why
	// the part is refused (see PartFileName).
	Name func(p *multipart.Part) (name, reason string)
}

// SpooledFile is a file part written to a temporary file at Path.
type SpooledFile struct {
	Name string
	Path string
	Size int64
}

// RemoveSpooled removes the temporary files of files.
func RemoveSpooled(files []SpooledFile) {
	for _, f := range files {
		_ = os.Remove(f.Path)
	}
}

// Read spools the upload body of contentType. On success the caller owns
// the files and removes them (RemoveSpooled); on error Read removes what
// it wrote and returns no file. The error is an *UploadError, a
// *TooLargeError, or a *SpoolError.
func (s Spool) Read(contentType string, body io.Reader) (files []SpooledFile, err error) {
	mt, params, perr := mime.ParseMediaType(contentType)
	if perr != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &UploadError{Detail: "the body must be multipart/form-data with file parts",
			Location: "header.Content-Type", Message: "want multipart/form-data; boundary=…"}
	}
	if body == nil {
		body = strings.NewReader("")
	}
	defer func() {
		if err != nil {
			RemoveSpooled(files)
			files = nil
		}
	}()
	mr := multipart.NewReader(&cappedReader{r: body, left: s.MaxBytes}, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, s.readError(err)
		}
		if p.FormName() != s.Field {
			// Other fields carry nothing we use; they still count against the limit.
			if _, err := io.Copy(io.Discard, p); err != nil {
				return files, s.readError(err)
			}
			continue
		}
		f, err := s.spoolPart(p, len(files))
		if f.Path != "" {
			files = append(files, f)
		}
		if err != nil {
			return files, err
		}
	}
	if len(files) == 0 {
		return nil, &UploadError{Detail: "no " + s.Noun + " in the upload", Location: "body." + s.Field,
			Message: "required: one or more file parts"}
	}
	return files, nil
}

// spoolPart checks the i-th file part's name and writes it to a temporary
// file.
func (s Spool) spoolPart(p *multipart.Part, i int) (SpooledFile, error) {
	loc := "body." + s.Field + "[" + strconv.Itoa(i) + "]"
	if i == s.MaxFiles {
		return SpooledFile{}, &UploadError{Detail: "too many files", Location: loc,
			Message: fmt.Sprintf("at most %d files per upload", s.MaxFiles)}
	}
	name, reason := s.Name(p)
	if reason != "" {
		return SpooledFile{}, &UploadError{Detail: "bad " + s.Noun + " name", Location: loc, Message: reason}
	}
	f, err := spool(s.Dir, s.Pattern, p)
	f.Name = name
	if err != nil {
		return f, s.readError(err)
	}
	return f, nil
}

// readError is the error of an upload that could not be read: too large,
// a *SpoolError as it is, or unreadable.
func (s Spool) readError(err error) error {
	var spoolErr *SpoolError
	switch {
	case errors.Is(err, errTooLarge):
		return &TooLargeError{Limit: s.MaxBytes}
	case errors.As(err, &spoolErr):
		return err
	}
	return &UploadError{Detail: "unreadable multipart body", Location: "body", Message: err.Error()}
}

// spool copies a part into a temporary file. A failure to write the
// file is a *SpoolError (ours); any other error is the upload's.
func spool(dir, pattern string, p *multipart.Part) (SpooledFile, error) {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return SpooledFile{}, &SpoolError{err}
	}
	w := &writeErrs{w: tmp}
	n, err := io.Copy(w, p)
	cerr := tmp.Close()
	switch {
	case w.err != nil:
		err = &SpoolError{w.err}
	case err == nil && cerr != nil:
		err = &SpoolError{cerr}
	}
	return SpooledFile{Path: tmp.Name(), Size: n}, err
}

// writeErrs remembers a write error, to tell it from a read error after
// io.Copy.
type writeErrs struct {
	w   io.Writer
	err error
}

func (w *writeErrs) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// errTooLarge is the body going past its limit.
var errTooLarge = errors.New("upload too large")

// cappedReader passes at most left bytes on, and fails with errTooLarge
// when there is more. Bytes past the limit never reach the multipart
// reader, so it cannot finish a body that is too large without seeing the
// error.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		n, err := c.r.Read(probe[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// PartFileName checks a file part's name as a client sent it: the raw
// Content-Disposition filename (multipart.Part.FileName would silently
// strip directories), a printable base name of at most maxLen bytes. It
// returns the name, or why it is refused (naming it with QuoteName).
func PartFileName(p *multipart.Part, maxLen int) (name, reason string) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", "unreadable Content-Disposition: " + err.Error()
	}
	name = params["filename"]
	shown := QuoteName(name)
	switch {
	case name == "":
		return "", "the part has no filename"
	case len(name) > maxLen:
		return "", fmt.Sprintf("file name %s is longer than %d bytes", shown, maxLen)
	case !utf8.ValidString(name):
		return "", fmt.Sprintf("file name %s is not UTF-8", shown)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", fmt.Sprintf("file name %s has control or non-printable characters", shown)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return "", fmt.Sprintf("file name %s must be a base name, without directories", shown)
	}
	return name, ""
}

// QuoteName shows a client's file name in a message: its first 80 bytes,
// quoted as ASCII, so that nothing it holds can forge a log line.
func QuoteName(name string) string {
	if len(name) > 80 {
		name = name[:80] + "…"
	}
	return strconv.QuoteToASCII(name)
}
