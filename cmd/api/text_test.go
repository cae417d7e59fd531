package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUnmarshalTextRefusesWhatIsNotText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"a":"text"}`, true},
		{`{"a":"\\u0000 is six characters of text"}`, true},
		{`{"a":"\u00e9\u0001"}`, true},
		{`{"a":"x\u0000y"}`, false},
		{`{"a\u0000":1}`, false},
		{"{\"a\":\"\xff\"}", false},
		{"{\"a\":\"\x00\"}", false},
	} {
		var v map[string]any
		if err := unmarshalText([]byte(tc.body), &v); (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.body, err, tc.ok)
		}
	}
}

// TestBodiesMustBeText: a NUL or a byte that is not UTF-8 in a JSON body is
// the client's error (400), not a 500 from PostgreSQL, and stores nothing.
func TestBodiesMustBeText(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	b := payBody("4111111111111111", 1000, "USD")
	b["order"].(map[string]any)["reference_order_id"] = "order\x00-1"
	resp, body := e.call(t, http.MethodPost, "/v1/payments", e.checkout, b)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "NUL") {
		t.Errorf("NUL in a field: %d %s", resp.StatusCode, body)
	}
	raw, _ := json.Marshal(payBody("4111111111111111", 1000, "USD"))
	raw = []byte(strings.Replace(string(raw), "order-1111", "order-\xff", 1))
	resp, body = e.call(t, http.MethodPost, "/v1/payments", e.checkout, raw)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "UTF-8") {
		t.Errorf("invalid UTF-8: %d %s", resp.StatusCode, body)
	}
	if n := e.count(t, "payments"); n != 0 {
		t.Errorf("%d payments stored from bad bodies", n)
	}
	if strings.Contains(string(body), "4111111111111111") {
		t.Errorf("the problem echoes the card number: %s", body)
	}
}

func TestUploadedFileNameIsText(t *testing.T) {
	t.Parallel()
	if got := asText("ev\x00id\xffence.pdf", 255); got != "evid\uFFFDence.pdf" {
		t.Errorf("asText = %q", got)
	}
	if got := asText(strings.Repeat("é", 200), 255); len(got) > 255 || !utf8.ValidString(got) {
		t.Errorf("asText cut %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	body := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ev\xffidence.pdf\"\r\n" +
		"Content-Type: application/pdf\xfe\r\n\r\n%PDF-1.4 x\r\n--b--\r\n"
	name, partType, doc, err := uploadedFile("multipart/form-data; boundary=b", []byte(body))
	if err != nil || !utf8.ValidString(name) || !utf8.ValidString(partType) || string(doc) != "%PDF-1.4 x" {
		t.Errorf("uploadedFile = %q %q %q %v", name, partType, doc, err)
	}
}
