package sandbox_test

// This file checks the sandbox's signatures against a second, independent
// implementation of apo-reference.md §2, written from the recipe alone with
// crypto/* and net/url. It shares no code with package apo (which the
// sandbox itself uses), so a mistake in that package cannot hide here.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo/sandbox"
)

// recipeContent is §2.2: "<METHOD> <uri>\n<client-id>.<time>.<body>".
func recipeContent(uri, clientID, timestamp string, body []byte) []byte {
	return append([]byte("POST "+uri+"\n"+clientID+"."+timestamp+"."), body...)
}

// recipeSign is SHA256withRSA (PKCS#1 v1.5), base64 with padding, then
// form URL-encoding, wrapped in the header format.
func recipeSign(t *testing.T, key *rsa.PrivateKey, uri, clientID, timestamp string, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(recipeContent(uri, clientID, timestamp, body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return "algorithm=RSA256,keyVersion=1,signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
}

// recipeVerify takes the text after "signature=" as the Go and Python SDKs
// do, URL-decodes it, base64-decodes it and checks it.
func recipeVerify(key *rsa.PublicKey, uri, clientID, timestamp string, body []byte, header string) bool {
	_, enc, ok := strings.Cut(header, "signature=")
	if !ok {
		return false
	}
	dec, err := url.QueryUnescape(enc)
	if err != nil {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(dec)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(recipeContent(uri, clientID, timestamp, body))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) == nil
}

func TestIndependentSignerAndVerifier(t *testing.T) {
	merchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	apoKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Config{
		ClientID:          "SANDBOX_5X00000000000000",
		APOPrivateKey:     apoKey,
		MerchantPublicKey: &merchant.PublicKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	const clientID = "SANDBOX_5X00000000000000"
	isoSecond := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`)
	send := func(uri, requestTime string, body []byte, sig string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, ts.URL+uri, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		req.Header.Set("client-id", clientID)
		req.Header.Set("request-time", requestTime)
		req.Header.Set("signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, raw
	}
	payBody := func(rid string) []byte {
		return []byte(`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"` + rid + `",` +
			`"paymentAmount":{"currency":"EUR","value":"1999"},` +
			`"order":{"referenceOrderId":"o-` + rid + `","orderDescription":"book","buyer":{"buyerEmail":"a@example.com"}},` +
			`"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"5555555555554444","cvv":"737",` +
			`"expiryMonth":"03","expiryYear":"30","cardholderName":{"fullName":"Jane Doe"}}},` +
			`"paymentFactor":{"isAuthorization":"true","captureMode":"MANUAL"},` +
			`"env":{"terminalType":"WEB","clientIp":"198.51.100.4"}}`)
	}
	type result struct {
		Result struct{ ResultCode, ResultStatus string }
	}

	// Request times as the Go/Java SDKs (ms) and the Python SDK (ISO) send them.
	times := []string{strconv.FormatInt(time.Now().UnixMilli(), 10), time.Now().UTC().Format("2006-01-02T15:04:05+00:00")}
	for i, rt := range times {
		uri := "/ams/sandbox/api/v1/payments/pay"
		body := payBody("indep-" + strconv.Itoa(i))
		res, raw := send(uri, rt, body, recipeSign(t, merchant, uri, clientID, rt, body))
		var got result
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("answer is not JSON: %s", raw)
		}
		if got.Result.ResultStatus != "S" || got.Result.ResultCode != "SUCCESS" {
			t.Fatalf("request-time %s: sandbox refused an independently signed pay: %s", rt, raw)
		}
		respTime := res.Header.Get("response-time")
		if !isoSecond.MatchString(respTime) {
			t.Errorf("response-time %q is not ISO 8601 to the second with offset", respTime)
		}
		if res.Header.Get("client-id") != clientID {
			t.Errorf("response client-id %q", res.Header.Get("client-id"))
		}
		if !recipeVerify(&apoKey.PublicKey, uri, res.Header.Get("client-id"), respTime, raw, res.Header.Get("signature")) {
			t.Fatalf("the sandbox's response signature does not verify by the recipe")
		}
		// A verifier must notice tampering, or the check above proves nothing.
		if recipeVerify(&apoKey.PublicKey, uri, clientID, respTime, append(raw, ' '), res.Header.Get("signature")) {
			t.Fatalf("recipeVerify accepted a changed body")
		}
	}

	// Signed for the production path but sent to the sandbox path: the
	// signature covers the path, so the sandbox must refuse it.
	rt := times[0]
	body := payBody("indep-path")
	res, raw := send("/ams/sandbox/api/v1/payments/pay", rt, body, recipeSign(t, merchant, "/ams/api/v1/payments/pay", clientID, rt, body))
	var got result
	if err := json.Unmarshal(raw, &got); err != nil || got.Result.ResultCode != "SIGNATURE_INVALID" || got.Result.ResultStatus != "F" {
		t.Fatalf("wrong-path signature: %s", raw)
	}
	if !recipeVerify(&apoKey.PublicKey, "/ams/sandbox/api/v1/payments/pay", clientID, res.Header.Get("response-time"), raw, res.Header.Get("signature")) {
		t.Errorf("the SIGNATURE_INVALID answer is not signed by the recipe")
	}
}
