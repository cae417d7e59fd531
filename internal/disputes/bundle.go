package disputes

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strconv"
	"strings"
	"unicode/utf16"
)

// EvidenceFile is one file of a defence as a person uploaded it.
type EvidenceFile struct {
	Name string // the file's name, shown on the bundle's cover page
	Data []byte
}

// MaxEvidenceFiles bounds how many files one defence bundles.
const MaxEvidenceFiles = 10

// maxImagePixels bounds an image's declared size before it is decoded: a
// small PNG can declare a huge canvas (a decompression bomb).
const maxImagePixels = 40_000_000

// Bundle makes the one document a defence sends out of the files a person
// gathered: APO's supplyDefenseDocument takes a single document, once.
//
// One file is the document itself, as the API sends it. Several become one
// PDF: a cover page listing every file (name, type, size, SHA-256), then
// each JPEG or PNG on a page of its own; a PDF is attached whole (an
// embedded file, with a paperclip on the cover page and the viewer told to
// show attachments), because merging another PDF's pages needs a PDF
// parser this package does not have. title heads the cover page.
//
// Each file must be a PDF, JPEG or PNG (recognised by its bytes) within
// MaxEvidenceBytes; a bad one is an *InvalidError naming it. The result may
// still exceed MaxEvidenceBytes, which Defend refuses.
func Bundle(title string, files []EvidenceFile) (doc []byte, contentType string, err error) {
	switch {
	case len(files) == 0:
		return nil, "", &InvalidError{Field: "file", Reason: "no document"}
	case len(files) > MaxEvidenceFiles:
		return nil, "", &InvalidError{Field: "file", Reason: fmt.Sprintf("at most %d files per defence", MaxEvidenceFiles)}
	}
	types := make([]string, len(files))
	for i, f := range files {
		ct, err := sniff(f.Data, "")
		if err != nil {
			return nil, "", &InvalidError{Field: "file", Reason: fmt.Sprintf("%s: %s", shownName(f.Name), reasonOf(err))}
		}
		types[i] = ct
	}
	if len(files) == 1 {
		return files[0].Data, types[0], nil
	}
	var b pdfBuilder
	if err := b.bundle(title, files, types); err != nil {
		return nil, "", err
	}
	return b.bytes(), ContentTypePDF, nil
}

func reasonOf(err error) string {
	if ie, ok := err.(*InvalidError); ok {
		return ie.Reason
	}
	return err.Error()
}

// shownName is a file name as messages and the cover page show it.
func shownName(name string) string {
	if name == "" {
		name = "(unnamed)"
	}
	if r := []rune(name); len(r) > 80 {
		name = string(r[:80]) + "…"
	}
	return name
}

// pdfBuilder writes a small PDF by hand: numbered objects, then the cross-
// reference table. Object 1 is the catalog, 2 the page tree, 3 the font.
type pdfBuilder struct {
	objs [][]byte // objs[i] is object i+1's body
}

// A4 in points, and the margin around a page's content.
const (
	pageW, pageH = 595.0, 842.0
	margin       = 40.0
)

func (b *pdfBuilder) add(body []byte) int {
	b.objs = append(b.objs, body)
	return len(b.objs)
}

func (b *pdfBuilder) set(n int, body []byte) { b.objs[n-1] = body }

// stream is a stream object: dict holds everything but /Length.
func stream(dict string, data []byte) []byte {
	var o bytes.Buffer
	fmt.Fprintf(&o, "<< %s /Length %d >>\nstream\n", dict, len(data))
	o.Write(data)
	o.WriteString("\nendstream")
	return o.Bytes()
}

func (b *pdfBuilder) bundle(title string, files []EvidenceFile, types []string) error {
	b.add(nil) // catalog, written last
	b.add(nil) // page tree, written last
	b.add([]byte("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"))
	cover := b.add(nil)
	pages := []int{cover}
	var (
		text     content
		annots   []string
		attached []string // name tree entries: key and filespec
	)
	y := pageH - margin - 14
	text.line(margin, y, 14, title)
	y -= 22
	text.line(margin, y, 10, fmt.Sprintf("This defence bundles %d files. Images follow as pages; PDF documents are attached", len(files)))
	y -= 13
	text.line(margin, y, 10, "to this file (open the attachments panel, or the paperclips below).")
	y -= 24
	for i, f := range files {
		sum := sha256.Sum256(f.Data)
		what := ""
		switch types[i] {
		case ContentTypePDF:
			fs, err := b.attach(i, f)
			if err != nil {
				return err
			}
			attached = append(attached, fmt.Sprintf("(%02d) %d 0 R", i+1, fs))
			annots = append(annots, b.paperclip(fs, f.Name, y))
			what = "PDF, attached"
		default:
			page, err := b.imagePage(i, f, types[i])
			if err != nil {
				return err
			}
			pages = append(pages, page)
			what = fmt.Sprintf("%s, page %d", strings.TrimPrefix(types[i], "image/"), len(pages))
		}
		text.line(margin+18, y, 11, fmt.Sprintf("%d. %s", i+1, shownName(f.Name)))
		y -= 13
		text.line(margin+32, y, 8, fmt.Sprintf("%s; %s bytes; SHA-256 %s", what, groupDigits(len(f.Data)), hex.EncodeToString(sum[:])))
		y -= 20
	}
	contents := b.add(stream("/Filter /FlateDecode", deflate(text.Bytes())))
	page := fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R",
		pageW, pageH, contents)
	if len(annots) > 0 {
		page += " /Annots [" + strings.Join(annots, " ") + "]"
	}
	b.set(cover, []byte(page+" >>"))

	kids := make([]string, len(pages))
	for i, p := range pages {
		kids[i] = strconv.Itoa(p) + " 0 R"
	}
	b.set(2, fmt.Appendf(nil, "<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	catalog := "<< /Type /Catalog /Pages 2 0 R"
	if len(attached) > 0 {
		// Keys "01", "02" … sort as the name tree requires.
		catalog += " /Names << /EmbeddedFiles << /Names [" + strings.Join(attached, " ") + "] >> >> /PageMode /UseAttachments"
	}
	b.set(1, []byte(catalog+" >>"))
	return nil
}

// attach embeds a PDF whole and returns its file specification's object.
func (b *pdfBuilder) attach(i int, f EvidenceFile) (int, error) {
	ef := b.add(stream(fmt.Sprintf("/Type /EmbeddedFile /Subtype /application#2Fpdf /Filter /FlateDecode /Params << /Size %d >>",
		len(f.Data)), deflate(f.Data)))
	name := f.Name
	if name == "" {
		name = fmt.Sprintf("evidence-%d.pdf", i+1)
	}
	return b.add(fmt.Appendf(nil, "<< /Type /Filespec /F %s /UF %s /Desc %s /EF << /F %d 0 R >> >>",
		pdfString(name), pdfText(name), pdfText(fmt.Sprintf("Evidence file %d", i+1)), ef)), nil
}

// paperclip is a file attachment annotation at the start of the line at y.
func (b *pdfBuilder) paperclip(fs int, name string, y float64) string {
	a := b.add(fmt.Appendf(nil, "<< /Type /Annot /Subtype /FileAttachment /Rect [%g %g %g %g] /FS %d 0 R /Name /Paperclip /Contents %s >>",
		margin, y-3, margin+12, y+11, fs, pdfText(name)))
	return strconv.Itoa(a) + " 0 R"
}

// imagePage puts an image on a page of its own, captioned, scaled to fit
// (never enlarged past one point per pixel), and returns the page.
func (b *pdfBuilder) imagePage(i int, f EvidenceFile, ct string) (int, error) {
	img, err := imageXObject(f.Data, ct)
	if err != nil {
		return 0, &InvalidError{Field: "file", Reason: fmt.Sprintf("%s: %s", shownName(f.Name), err)}
	}
	im := b.add(img.obj)
	boxW, boxH := pageW-2*margin, pageH-2*margin-24
	scale := min(boxW/float64(img.w), boxH/float64(img.h), 1)
	w, h := float64(img.w)*scale, float64(img.h)*scale
	var c content
	c.line(margin, pageH-margin-10, 10, fmt.Sprintf("%d. %s", i+1, shownName(f.Name)))
	fmt.Fprintf(&c.Buffer, "q %.2f 0 0 %.2f %.2f %.2f cm /Im1 Do Q\n", w, h, margin, pageH-margin-24-h)
	contents := b.add(stream("/Filter /FlateDecode", deflate(c.Bytes())))
	return b.add(fmt.Appendf(nil, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>",
		pageW, pageH, im, contents)), nil
}

type xobject struct {
	obj  []byte
	w, h int
}

// imageXObject is an image as a PDF image object: a JPEG as it is (PDF
// reads JPEG), a PNG decoded to RGB over white and deflated.
func imageXObject(data []byte, ct string) (xobject, error) {
	var (
		cfg image.Config
		err error
	)
	if ct == ContentTypeJPEG {
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	} else {
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	}
	switch {
	case err != nil:
		return xobject{}, fmt.Errorf("unreadable image: %v", err)
	case cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels:
		return xobject{}, fmt.Errorf("image of %d×%d pixels; at most %d pixels", cfg.Width, cfg.Height, maxImagePixels)
	}
	if ct == ContentTypeJPEG {
		space := "/DeviceRGB"
		switch cfg.ColorModel {
		case color.GrayModel:
			space = "/DeviceGray"
		case color.CMYKModel:
			// Adobe's CMYK JPEGs, nearly all there are, store inverted values.
			space = "/DeviceCMYK /Decode [1 0 1 0 1 0 1 0]"
		}
		return xobject{w: cfg.Width, h: cfg.Height, obj: stream(fmt.Sprintf(
			"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode",
			cfg.Width, cfg.Height, space), data)}, nil
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return xobject{}, fmt.Errorf("unreadable image: %v", err)
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	// Rows as PNG stores them, each led by its filter type (Paeth), which
	// PDF's FlateDecode undoes with /Predictor 15: screenshots then stay
	// about as small as their PNG.
	stride := 1 + 3*w
	rows := make([]byte, stride*h)
	prev := make([]byte, 3*w)
	cur := make([]byte, 3*w)
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			a := uint32(c.A)
			over := func(v uint8) byte { return byte((uint32(v)*a + 255*(255-a)) / 255) }
			cur[3*x], cur[3*x+1], cur[3*x+2] = over(c.R), over(c.G), over(c.B)
		}
		row := rows[y*stride : (y+1)*stride]
		row[0] = 4 // Paeth
		for i := range cur {
			var left, upLeft byte
			if i >= 3 {
				left, upLeft = cur[i-3], prev[i-3]
			}
			row[1+i] = cur[i] - paeth(left, prev[i], upLeft)
		}
		prev, cur = cur, prev
	}
	return xobject{w: w, h: h, obj: stream(fmt.Sprintf(
		"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode "+
			"/DecodeParms << /Predictor 15 /Colors 3 /BitsPerComponent 8 /Columns %d >>", w, h, w), deflate(rows))}, nil
}

// paeth is PNG's Paeth predictor of a byte from its left, upper and
// upper-left neighbours.
func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// content is a page's content stream.
type content struct{ bytes.Buffer }

// line writes one line of Helvetica text at (x, y).
func (c *content) line(x, y, size float64, s string) {
	fmt.Fprintf(&c.Buffer, "BT /F1 %g Tf %.2f %.2f Td %s Tj ET\n", size, x, y, pdfString(s))
}

func (b *pdfBuilder) bytes() []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(b.objs))
	for i, o := range b.objs {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n", i+1)
		out.Write(o)
		out.WriteString("\nendobj\n")
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(b.objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(b.objs)+1, xref)
	return out.Bytes()
}

func deflate(p []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write(p) // writes to memory do not fail
	_ = w.Close()
	return b.Bytes()
}

// pdfString is s as a literal string in Helvetica's WinAnsi encoding:
// Latin-1 letters kept, anything else shown as "?".
func pdfString(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r >= 0x20 && r < 0x7f, r >= 0xa0 && r <= 0xff:
			b.WriteByte(byte(r))
		case r == '…':
			b.WriteByte(0x85)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
	return b.String()
}

// pdfText is s as a PDF text string (UTF-16BE with its mark, in hex), for
// names a viewer shows: any script survives.
func pdfText(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteByte('>')
	return b.String()
}

// groupDigits writes n with thousands separators: 123,456.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}
