package disputes_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/payops/payops/internal/disputes"
)

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 200, A: 128})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var minimalPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// TestBundle: one file is sent as it is; several become one PDF whose
// cross-reference table points at every object, with a page per image and
// each PDF attached byte for byte, listed on a cover page by name.
func TestBundle(t *testing.T) {
	t.Parallel()
	one, ct, err := disputes.Bundle("Defence", []disputes.EvidenceFile{{Name: "a.png", Data: pngOf(t, 4, 4)}})
	if err != nil || ct != disputes.ContentTypePNG || !bytes.Equal(one, pngOf(t, 4, 4)) {
		t.Fatalf("one file: %v %s, want the file itself", err, ct)
	}

	files := []disputes.EvidenceFile{
		{Name: "receipt (1).png", Data: pngOf(t, 30, 20)},
		{Name: "delivery-proof.pdf", Data: minimalPDF},
		{Name: "chat é.jpg", Data: jpegOf(t, 16, 16)},
	}
	doc, ct, err := disputes.Bundle("Defence of dispute D-1", files)
	if err != nil || ct != disputes.ContentTypePDF {
		t.Fatalf("bundle: %v %s", err, ct)
	}
	objs := checkXref(t, doc)
	if !regexp.MustCompile(`/Type /Pages /Kids \[\d+ 0 R \d+ 0 R \d+ 0 R\] /Count 3`).Match(doc) {
		t.Errorf("want 3 pages (cover and two images):\n%s", doc)
	}
	if !bytes.Contains(doc, []byte("/EmbeddedFiles << /Names [(02) ")) || !bytes.Contains(doc, []byte("/Subtype /FileAttachment")) {
		t.Error("the PDF is not attached")
	}
	var cover, attached, pixels bool
	for _, o := range objs {
		data := inflateStream(t, o)
		switch {
		case bytes.Contains(o, []byte("/Predictor 15")):
			pixels = true
			checkPixels(t, unPaeth(t, data, 30, 20), files[0].Data)
		case bytes.Equal(data, minimalPDF):
			attached = true
		case bytes.Contains(data, []byte("2. delivery-proof.pdf")):
			cover = true
			for _, want := range []string{"1. receipt \\(1\\).png", "3. chat \xe9.jpg", "PDF, attached", "png, page 2", "jpeg, page 3"} {
				if !bytes.Contains(data, []byte(want)) {
					t.Errorf("cover page lacks %q:\n%s", want, data)
				}
			}
		}
	}
	if !cover || !attached || !pixels {
		t.Errorf("cover page found %v, PDF attached whole %v, PNG's pixels %v", cover, attached, pixels)
	}
}

// TestBundleRefusesBadFiles: a file that is not a PDF, JPEG or PNG, an
// image declaring a huge canvas, and too many files are refused before
// anything is built, naming the file.
func TestBundleRefusesBadFiles(t *testing.T) {
	t.Parallel()
	huge := pngOf(t, 1, 1)
	// Rewrite the IHDR's size to 50000×50000 (its CRC no longer matches,
	// which DecodeConfig does not check before the size is read).
	copy(huge[16:24], []byte{0, 0, 0xC3, 0x50, 0, 0, 0xC3, 0x50})
	many := make([]disputes.EvidenceFile, disputes.MaxEvidenceFiles+1)
	for i := range many {
		many[i] = disputes.EvidenceFile{Name: fmt.Sprint(i), Data: minimalPDF}
	}
	for name, files := range map[string][]disputes.EvidenceFile{
		"text":  {{Name: "a.pdf", Data: minimalPDF}, {Name: "notes.txt", Data: []byte("hello")}},
		"bomb":  {{Name: "a.pdf", Data: minimalPDF}, {Name: "bomb.png", Data: huge}},
		"many":  many,
		"none":  nil,
		"empty": {{Name: "a.pdf", Data: minimalPDF}, {Name: "empty.pdf"}},
	} {
		_, _, err := disputes.Bundle("x", files)
		var inv *disputes.InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%s: %v, want *InvalidError", name, err)
			continue
		}
		if name == "text" && !strings.Contains(inv.Reason, "notes.txt") || name == "bomb" && !strings.Contains(inv.Reason, "bomb.png") {
			t.Errorf("%s: %q does not name the file", name, inv.Reason)
		}
	}
}

// checkXref checks that the cross-reference table points at each object's
// header, and returns the objects' bodies.
func checkXref(t *testing.T, doc []byte) [][]byte {
	t.Helper()
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("no startxref")
	}
	at, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(doc[at:], []byte("xref\n0 ")) {
		t.Fatalf("startxref %d does not point at the table", at)
	}
	var n int
	fmt.Sscanf(string(doc[at+len("xref\n0 "):]), "%d", &n)
	rows := regexp.MustCompile(`(\d{10}) 00000 n \n`).FindAllSubmatch(doc[at:], -1)
	if len(rows) != n-1 {
		t.Fatalf("%d rows for %d objects", len(rows), n-1)
	}
	var objs [][]byte
	for i, r := range rows {
		off, _ := strconv.Atoi(string(r[1]))
		head := fmt.Sprintf("%d 0 obj\n", i+1)
		if !bytes.HasPrefix(doc[off:], []byte(head)) {
			t.Fatalf("object %d: offset %d points at %q", i+1, off, doc[off:off+10])
		}
		body := doc[off+len(head):]
		objs = append(objs, body[:bytes.Index(body, []byte("\nendobj\n"))])
	}
	return objs
}

// inflateStream returns a deflated stream object's data, or nil.
func inflateStream(t *testing.T, obj []byte) []byte {
	t.Helper()
	if !bytes.Contains(obj, []byte("/Filter /FlateDecode")) {
		return nil
	}
	m := regexp.MustCompile(`/Length (\d+) >>\nstream\n`).FindSubmatchIndex(obj)
	if m == nil {
		return nil
	}
	n, _ := strconv.Atoi(string(obj[m[2]:m[3]]))
	r, err := zlib.NewReader(bytes.NewReader(obj[m[1] : m[1]+n]))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// unPaeth undoes the PNG row filters of w×h RGB rows, as a PDF reader does
// for /Predictor 15.
func unPaeth(t *testing.T, data []byte, w, h int) []byte {
	t.Helper()
	stride := 1 + 3*w
	if len(data) != stride*h {
		t.Fatalf("image data of %d bytes, want %d", len(data), stride*h)
	}
	out := make([]byte, 3*w*h)
	for y := range h {
		if data[y*stride] != 4 {
			t.Fatalf("row %d filter %d", y, data[y*stride])
		}
		for i := range 3 * w {
			var a, b, c int
			if i >= 3 {
				a = int(out[y*3*w+i-3])
			}
			if y > 0 {
				b = int(out[(y-1)*3*w+i])
				if i >= 3 {
					c = int(out[(y-1)*3*w+i-3])
				}
			}
			p := a + b - c
			pa, pb, pc := max(p-a, a-p), max(p-b, b-p), max(p-c, c-p)
			pred := c
			if pa <= pb && pa <= pc {
				pred = a
			} else if pb <= pc {
				pred = b
			}
			out[y*3*w+i] = data[y*stride+1+i] + byte(pred)
		}
	}
	return out
}

// checkPixels compares RGB pixels with a PNG's, composited over white.
func checkPixels(t *testing.T, rgb, pngData []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			a := uint32(c.A)
			want := []byte{byte((uint32(c.R)*a + 255*(255-a)) / 255), byte((uint32(c.G)*a + 255*(255-a)) / 255),
				byte((uint32(c.B)*a + 255*(255-a)) / 255)}
			i := (y*b.Dx() + x) * 3
			if !bytes.Equal(rgb[i:i+3], want) {
				t.Fatalf("pixel (%d,%d) %v, want %v", x, y, rgb[i:i+3], want)
			}
		}
	}
}
