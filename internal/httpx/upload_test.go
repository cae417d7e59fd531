package httpx

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// testSpool spools into dir with small limits; names must end in .txt.
func testSpool(dir string, maxBytes int64, maxFiles int) Spool {
	return Spool{Dir: dir, Pattern: "upload-*", Field: "file", Noun: "text file", MaxBytes: maxBytes, MaxFiles: maxFiles,
		Name: func(p *multipart.Part) (string, string) {
			name, reason := PartFileName(p, 32)
			if reason == "" && !strings.HasSuffix(name, ".txt") {
				return "", "file name " + QuoteName(name) + " must end in .txt"
			}
			return name, reason
		}}
}

type part struct{ field, filename, content string }

// form encodes parts as multipart/form-data; a part with an empty field is
// a file part named filename (the raw name, not escaped).
func form(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.field == "" {
			h.Set("Content-Disposition", `form-data; name="file"; filename="`+p.filename+`"`)
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"`)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, p.content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

func mustBeEmpty(t *testing.T, dir string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%s holds %v after a refused upload", dir, left)
	}
}

func TestSpoolReadsFileParts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ct, body := form(t, part{filename: "a.txt", content: "alpha"}, part{field: "note", content: "ignored"},
		part{filename: "b.txt", content: ""})
	files, err := testSpool(dir, 1<<20, 5).Read(ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "a.txt" || files[0].Size != 5 || files[1].Name != "b.txt" || files[1].Size != 0 {
		t.Fatalf("files %+v", files)
	}
	if got, _ := os.ReadFile(files[0].Path); string(got) != "alpha" || filepath.Dir(files[0].Path) != dir {
		t.Fatalf("spooled %s: %q", files[0].Path, got)
	}
	RemoveSpooled(files)
	mustBeEmpty(t, dir)
}

// TestSpoolRefusals: every refusal is typed, names where the problem is,
// and leaves no temporary file behind.
func TestSpoolRefusals(t *testing.T) {
	t.Parallel()
	ok := part{filename: "a.txt", content: "alpha"}
	for _, tc := range []struct {
		name     string
		ct       string // "" for the form's own
		parts    []part
		maxBytes int64
		loc      string // of the *UploadError; "" for *TooLargeError
		detail   string
	}{
		{name: "not multipart", ct: "application/json", parts: []part{ok}, loc: "header.Content-Type",
			detail: "the body must be multipart/form-data with file parts"},
		{name: "no boundary", ct: "multipart/form-data", parts: []part{ok}, loc: "header.Content-Type"},
		{name: "no file part", parts: []part{{field: "note", content: "x"}}, loc: "body.file", detail: "no text file in the upload"},
		{name: "too many", parts: []part{ok, ok, ok}, loc: "body.file[2]", detail: "too many files"},
		{name: "directory", parts: []part{ok, {filename: "../b.txt"}}, loc: "body.file[1]", detail: "bad text file name"},
		{name: "backslash", parts: []part{{filename: `..\\b.txt`}}, loc: "body.file[0]", detail: "bad text file name"},
		{name: "too long", parts: []part{{filename: strings.Repeat("a", 33) + ".txt"}}, loc: "body.file[0]"},
		{name: "no name", parts: []part{{filename: ""}}, loc: "body.file[0]"},
		{name: "control", parts: []part{{filename: "a\tb.txt"}}, loc: "body.file[0]"},
		{name: "caller's rule", parts: []part{{filename: "a.csv"}}, loc: "body.file[0]", detail: "bad text file name"},
		{name: "too large", parts: []part{ok, {filename: "b.txt", content: strings.Repeat("x", 2048)}}, maxBytes: 1024},
		{name: "other fields count", parts: []part{{field: "note", content: strings.Repeat("x", 2048)}, ok}, maxBytes: 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ct, body := form(t, tc.parts...)
			if tc.ct != "" {
				ct = tc.ct
			}
			if tc.maxBytes == 0 {
				tc.maxBytes = 1 << 20
			}
			files, err := testSpool(dir, tc.maxBytes, 2).Read(ct, bytes.NewReader(body))
			if files != nil {
				t.Errorf("files %+v returned with %v", files, err)
			}
			var upload *UploadError
			var tooLarge *TooLargeError
			switch {
			case tc.loc == "":
				if !errors.As(err, &tooLarge) || tooLarge.Limit != tc.maxBytes ||
					err.Error() != "the upload is larger than 1024 bytes" {
					t.Errorf("err %v, want too large", err)
				}
			case !errors.As(err, &upload) || upload.Location != tc.loc || upload.Message == "":
				t.Errorf("err %#v, want an upload error at %s", err, tc.loc)
			case tc.detail != "" && upload.Detail != tc.detail:
				t.Errorf("detail %q, want %q", upload.Detail, tc.detail)
			}
			mustBeEmpty(t, dir)
		})
	}
}

func TestSpoolUnreadableBody(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ct, body := form(t, part{filename: "a.txt", content: strings.Repeat("x", 4096)})
	_, err := testSpool(dir, 1<<20, 2).Read(ct, io.MultiReader(bytes.NewReader(body[:len(body)/2]),
		iotest.ErrReader(errors.New("connection reset"))))
	var upload *UploadError
	if !errors.As(err, &upload) || upload.Detail != "unreadable multipart body" || upload.Location != "body" {
		t.Fatalf("err %#v", err)
	}
	mustBeEmpty(t, dir)
}

// TestSpoolWriteFailureIsOurs: a temporary file that cannot be created is
// a *SpoolError, not the client's fault.
func TestSpoolWriteFailureIsOurs(t *testing.T) {
	t.Parallel()
	ct, body := form(t, part{filename: "a.txt", content: "alpha"})
	_, err := testSpool(filepath.Join(t.TempDir(), "missing"), 1<<20, 2).Read(ct, bytes.NewReader(body))
	var spoolErr *SpoolError
	var upload *UploadError
	if !errors.As(err, &spoolErr) || errors.As(err, &upload) {
		t.Fatalf("err %#v, want a spool error", err)
	}
}

func TestCappedReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		limit   int64
		wantErr error
	}{
		{"abc", 3, nil},
		{"abc", 5, nil},
		{"abcd", 3, errTooLarge},
	} {
		got, err := io.ReadAll(&cappedReader{r: strings.NewReader(tc.in), left: tc.limit})
		if !errors.Is(err, tc.wantErr) || len(got) > int(tc.limit) {
			t.Errorf("%q limit %d: %q %v, want error %v", tc.in, tc.limit, got, err, tc.wantErr)
		}
	}
}
