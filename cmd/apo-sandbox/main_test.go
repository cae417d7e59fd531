package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/logging/logtest"
)

func noEnv(string) string { return "" }

// listeningURL polls the JSON log for the startup line.
func listeningURL(t *testing.T, out *logtest.Buffer, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "apo-sandbox listening" {
				return line.URL
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before listening: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line in time:\n%s", out.String())
	return ""
}

func TestRunServesSignedAPIAndShutsDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out logtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--keys-dir", dir, "--time-scale", "0.001", "--seed", "7"}, noEnv, &out)
	}()
	base := listeningURL(t, &out, done)

	for name, mode := range map[string]os.FileMode{
		"merchant_private.pem": 0o600, "apo_private.pem": 0o600, "merchant_public.pem": 0o644, "apo_public.pem": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("key file %s: %v", name, err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	merchant := mustPrivate(t, filepath.Join(dir, "merchant_private.pem"))
	apoPub := mustPublic(t, filepath.Join(dir, "apo_public.pem"))

	path := "/ams/sandbox/api/v1/payments/pay"
	body := []byte(`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"cmd-1","paymentAmount":{"currency":"USD","value":"500"},` +
		`"order":{"referenceOrderId":"o1","buyer":{"referenceBuyerId":"b1"}},"env":{"clientIp":"127.0.0.1"},` +
		`"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"4000000000003220","expiryMonth":"01","expiryYear":"40","cardholderName":"A B"}}}`)
	rt := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig, err := apo.Sign(merchant, "POST", path, "SANDBOX_PAYOPS", rt, body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("client-id", "SANDBOX_PAYOPS")
	req.Header.Set("request-time", rt)
	req.Header.Set("signature", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if err := apo.Verify(apoPub, "POST", path, res.Header.Get("client-id"), res.Header.Get("response-time"), raw, res.Header.Get("signature")); err != nil {
		t.Fatalf("response signature: %v", err)
	}
	var got struct {
		Result    struct{ ResultCode string }
		PaymentID string
		NormalURL string
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Result.ResultCode != "PAYMENT_IN_PROCESS" || got.NormalURL != base+"/sandbox/3ds/"+got.PaymentID {
		t.Errorf("3DS pay answer: %s", raw)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("run did not return after cancel")
	}
	logs := out.String()
	if strings.Contains(logs, "4000000000003220") {
		t.Error("logs contain the card number")
	}
	if !strings.Contains(logs, `"msg":"apo call"`) || !strings.Contains(logs, `"msg":"apo-sandbox stopped"`) {
		t.Errorf("logs lack the call or the stop line:\n%s", logs)
	}

	// A second start reuses the pairs instead of replacing them.
	before, _ := os.ReadFile(filepath.Join(dir, "apo_private.pem"))
	if _, _, err := loadKeys(dir, "", ""); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "apo_private.pem"))
	if !bytes.Equal(before, after) {
		t.Error("an existing key was replaced")
	}
}

var (
	pemOnce           sync.Once
	pemPriv, pemPub   []byte
	pemPriv2, pemPub2 []byte
)

// pemPairs returns two ready key pairs, made once for the tests below.
func pemPairs(t *testing.T) {
	t.Helper()
	pemOnce.Do(func() {
		var err error
		if pemPriv, pemPub, err = apo.GenerateKeyPEM(); err != nil {
			panic(err)
		}
		if pemPriv2, pemPub2, err = apo.GenerateKeyPEM(); err != nil {
			panic(err)
		}
	})
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEnsurePair(t *testing.T) {
	pemPairs(t)
	t.Run("derives a missing public key", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "apo_private.pem"), pemPriv)
		if err := ensurePair(dir, "apo"); err != nil {
			t.Fatal(err)
		}
		pub := mustPublic(t, filepath.Join(dir, "apo_public.pem"))
		if !pub.Equal(&mustPrivate(t, filepath.Join(dir, "apo_private.pem")).PublicKey) {
			t.Error("derived public key does not match")
		}
	})
	t.Run("refuses a mismatched pair", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "apo_private.pem"), pemPriv)
		write(t, filepath.Join(dir, "apo_public.pem"), pemPub2)
		err := ensurePair(dir, "apo")
		if err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("got %v, want a mismatch error", err)
		}
	})
	t.Run("keeps a matching pair", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "merchant_private.pem"), pemPriv2)
		write(t, filepath.Join(dir, "merchant_public.pem"), pemPub2)
		if err := ensurePair(dir, "merchant"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "merchant_private.pem")); !bytes.Equal(got, pemPriv2) {
			t.Error("private key rewritten")
		}
	})
}

func TestExplicitKeyFilesOverrideKeysDir(t *testing.T) {
	pemPairs(t)
	dir := t.TempDir()
	apoPriv := filepath.Join(dir, "a.pem")
	merchantPub := filepath.Join(dir, "m.pem")
	write(t, apoPriv, pemPriv)
	write(t, merchantPub, pemPub2)
	keysDir := filepath.Join(dir, "untouched")
	if _, _, err := loadKeys(keysDir, apoPriv, merchantPub); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keysDir); !os.IsNotExist(err) {
		t.Errorf("keys dir was created although both key files were given")
	}
	if _, _, err := loadKeys(keysDir, filepath.Join(dir, "missing.pem"), merchantPub); err == nil || !strings.Contains(err.Error(), "--apo-private-key") {
		t.Errorf("missing file: got %v", err)
	}
}

func TestParseOptions(t *testing.T) {
	env := map[string]string{"SANDBOX_ADDR": "127.0.0.1:9999", "SANDBOX_TIME_SCALE": "0.5", "SANDBOX_CLIENT_ID": "SANDBOX_X"}
	o, err := parseOptions(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:9999" || o.timeScale != 0.5 || o.clientID != "SANDBOX_X" || o.keysDir != ".run/keys" || o.reportsDir != ".run/reports" ||
		!o.dailyReports || o.settlementCurrency != "" || o.reportGeneration != "apo" {
		t.Errorf("options from env: %+v", o)
	}
	env["SANDBOX_DAILY_REPORTS"], env["SANDBOX_SETTLEMENT_CURRENCY"], env["SANDBOX_REPORT_GENERATION"] = "false", "EUR", "newest"
	if o, err = parseOptions(nil, func(k string) string { return env[k] }, io.Discard); err != nil || o.dailyReports || o.settlementCurrency != "EUR" ||
		o.reportGeneration != "newest" {
		t.Errorf("report options from env: %+v %v", o, err)
	}
	if o, err = parseOptions([]string{"--daily-reports=true", "--settlement-currency", "JPY", "--reports-dir", "/tmp/r", "--dispute-notify-url", "http://127.0.0.1:1/d",
		"--report-generation", "apo"}, func(k string) string { return env[k] }, io.Discard); err != nil || !o.dailyReports || o.settlementCurrency != "JPY" ||
		o.reportsDir != "/tmp/r" || o.disputeNotifyURL != "http://127.0.0.1:1/d" || o.reportGeneration != "apo" {
		t.Errorf("report flags: %+v %v", o, err)
	}
	if o.payoutDays != 2 || o.bankOpening != 1000000 || o.remitterName != "ANTOM SETTLEMENT" || len(o.bankAccounts) != 0 {
		t.Errorf("bank defaults: %+v", o)
	}
	env["SANDBOX_PAYOUT_DAYS"], env["SANDBOX_BANK_ACCOUNTS"] = "3", "USD=DE53370400440000302813"
	if o, err = parseOptions([]string{"--bank-accounts", "EUR=GB82WEST12345698765432, USD=DE53370400440000302813", "--bank-opening", "5",
		"--remitter-name", "APO"}, func(k string) string { return env[k] }, io.Discard); err != nil || o.payoutDays != 3 || o.bankOpening != 5 ||
		o.remitterName != "APO" || o.bankAccounts["EUR"] != "GB82WEST12345698765432" || len(o.bankAccounts) != 2 {
		t.Errorf("bank flags: %+v %v", o, err)
	}
	delete(env, "SANDBOX_PAYOUT_DAYS")
	delete(env, "SANDBOX_BANK_ACCOUNTS")
	o, err = parseOptions([]string{"--addr", ":1", "--time-scale", "2"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || o.addr != ":1" || o.timeScale != 2 {
		t.Errorf("flags over env: %+v %v", o, err)
	}
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad env time scale":  {nil, map[string]string{"SANDBOX_TIME_SCALE": "fast"}, "SANDBOX_TIME_SCALE"},
		"bad env seed":        {nil, map[string]string{"SANDBOX_SEED": "x"}, "SANDBOX_SEED"},
		"zero time scale":     {[]string{"--time-scale", "0"}, nil, "--time-scale"},
		"bad public url":      {[]string{"--public-url", "localhost"}, nil, "--public-url"},
		"bad notify url":      {[]string{"--dispute-notify-url", "/x"}, nil, "--dispute-notify-url"},
		"unknown flag":        {[]string{"--nope"}, nil, "nope"},
		"bad env daily":       {nil, map[string]string{"SANDBOX_DAILY_REPORTS": "sometimes"}, "SANDBOX_DAILY_REPORTS"},
		"daily without dir":   {[]string{"--reports-dir", ""}, nil, "--reports-dir"},
		"bad currency":        {[]string{"--settlement-currency", "XYZ"}, nil, "--settlement-currency"},
		"bad generation":      {[]string{"--report-generation", "B"}, nil, "--report-generation"},
		"extra argument":      {[]string{"serve"}, nil, "serve"},
		"bad payout days":     {[]string{"--payout-days", "0"}, nil, "--payout-days"},
		"bad env payout days": {nil, map[string]string{"SANDBOX_PAYOUT_DAYS": "x"}, "SANDBOX_PAYOUT_DAYS"},
		"bad env opening":     {nil, map[string]string{"SANDBOX_BANK_OPENING": "1.5"}, "SANDBOX_BANK_OPENING"},
		"bad bank account":    {[]string{"--bank-accounts", "USD:DE53370400440000302813"}, nil, "--bank-accounts"},
		"twice bank account":  {[]string{"--bank-accounts", "USD=A,USD=B"}, nil, "--bank-accounts"},
	} {
		_, err := parseOptions(c.args, func(k string) string { return c.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, c.want)
		}
	}
}

func mustPrivate(t *testing.T, path string) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := apo.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustPublic(t *testing.T, path string) *rsa.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := apo.ParsePublicKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedPost signs body with the merchant key and POSTs it to the sandbox.
func signedPost(t *testing.T, base string, merchant *rsa.PrivateKey, api string, body []byte) map[string]any {
	t.Helper()
	path := "/ams/sandbox/api/v1/payments/" + api
	rt := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig, err := apo.Sign(merchant, "POST", path, "SANDBOX_PAYOPS", rt, body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("client-id", "SANDBOX_PAYOPS")
	req.Header.Set("request-time", rt)
	req.Header.Set("signature", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRunWiresNotificationsAndReports: the flags reach the sandbox, and
// stopping the command delivers the notifications already queued before
// it returns.
func TestRunWiresNotificationsAndReports(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var got []string
	release := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // hold deliveries until the command is asked to stop
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.Path+" "+string(body))
		mu.Unlock()
		_, _ = io.WriteString(w, apo.NotificationAck)
	}))
	defer receiver.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out logtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--keys-dir", filepath.Join(dir, "keys"), "--seed", "3",
			"--reports-dir", filepath.Join(dir, "reports"), "--daily-reports=false", "--settlement-currency", "EUR", "--report-generation", "newest",
			"--dispute-notify-url", receiver.URL + "/disputes", "--customer-id", "C42", "--bank-accounts", "EUR=GB82WEST12345698765432",
			"--remitter-name", "APO EUROPE"}, noEnv, &out)
	}()
	base := listeningURL(t, &out, done)
	merchant := mustPrivate(t, filepath.Join(dir, "keys", "merchant_private.pem"))

	const pays = 3
	for i := range pays {
		m := signedPost(t, base, merchant, "pay", []byte(`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"drain-`+strconv.Itoa(i)+`",`+
			`"paymentAmount":{"currency":"USD","value":"500"},"paymentFactor":{"isAuthorization":true,"captureMode":"MANUAL"},`+
			`"order":{"referenceOrderId":"o1","buyer":{"referenceBuyerId":"b1"}},"env":{"clientIp":"127.0.0.1"},`+
			`"paymentNotifyUrl":"`+receiver.URL+`/payments",`+
			`"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"4000000000000259","expiryMonth":"01","expiryYear":"40","cardholderName":"A B"}}}`))
		if m["result"].(map[string]any)["resultStatus"] != "S" {
			t.Fatalf("pay: %v", m)
		}
		if i == 0 {
			// The dispute card opens a dispute at its first capture.
			c := signedPost(t, base, merchant, "capture", []byte(`{"captureRequestId":"drain-cap","paymentId":"`+m["paymentId"].(string)+
				`","captureAmount":{"currency":"USD","value":"500"}}`))
			if c["result"].(map[string]any)["resultStatus"] != "S" {
				t.Fatalf("capture: %v", c)
			}
		}
	}
	res, err := http.Post(base+"/sandbox/reports", "application/json", strings.NewReader(`{"date":"`+time.Now().UTC().Format("20060102")+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Dir        string `json:"dir"`
		Generation string `json:"generation"`
		Files      []struct {
			Name string `json:"name"`
		} `json:"files"`
	}
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.HasPrefix(rep.Dir, filepath.Join(dir, "reports", "C42")) || len(rep.Files) != 3 || rep.Generation != "newest" ||
		!strings.HasPrefix(rep.Files[1].Name, "settlementItems_EUR_") {
		t.Errorf("reports: %+v", rep)
	}
	today := time.Now().UTC().Format("20060102")
	res, err = http.Post(base+"/sandbox/bank-statements", "application/json", strings.NewReader(`{"from":"`+today+`","to":"`+today+`","format":"MT940"}`))
	if err != nil {
		t.Fatal(err)
	}
	var bank struct {
		Accounts map[string]string `json:"accounts"`
	}
	if err := json.NewDecoder(res.Body).Decode(&bank); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || bank.Accounts["EUR"] != "GB82WEST12345698765432" {
		t.Errorf("bank statements: %d %+v", res.StatusCode, bank)
	}

	cancel()
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("run did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	// 3 PAYMENT_RESULT + 1 CAPTURE_RESULT + 1 DISPUTE_CREATED, all
	// delivered before run returned.
	var payments, disputes int
	for _, g := range got {
		switch {
		case strings.HasPrefix(g, "/payments "):
			payments++
		case strings.HasPrefix(g, "/disputes ") && strings.Contains(g, `"DISPUTE_CREATED"`):
			disputes++
		}
	}
	if payments != pays+1 || disputes != 1 {
		t.Errorf("delivered %d payment and %d dispute notifications before stopping:\n%s", payments, disputes, strings.Join(got, "\n"))
	}
	if !strings.Contains(out.String(), `"notifications_delivered":5`) {
		t.Errorf("stop line lacks the delivery count:\n%s", out.String())
	}
}
