package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/payops/payops/internal/apo"
)

// loadKeys returns the key that signs responses and the key that verifies
// requests. Explicit files win; otherwise the dev pairs in dir are used,
// and created when missing (merchant_private.pem, merchant_public.pem,
// apo_private.pem, apo_public.pem), so the API finds its half too.
func loadKeys(dir, apoPrivateFile, merchantPublicFile string) (*rsa.PrivateKey, *rsa.PublicKey, error) {
	if apoPrivateFile == "" || merchantPublicFile == "" {
		for _, name := range []string{"merchant", "apo"} {
			if err := ensurePair(dir, name); err != nil {
				return nil, nil, fmt.Errorf("--keys-dir: %w", err)
			}
		}
		if apoPrivateFile == "" {
			apoPrivateFile = filepath.Join(dir, "apo_private.pem")
		}
		if merchantPublicFile == "" {
			merchantPublicFile = filepath.Join(dir, "merchant_public.pem")
		}
	}
	data, err := os.ReadFile(apoPrivateFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--apo-private-key: %w", err)
	}
	apoKey, err := apo.ParsePrivateKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--apo-private-key %s: %w", apoPrivateFile, err)
	}
	data, err = os.ReadFile(merchantPublicFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--merchant-public-key: %w", err)
	}
	merchantKey, err := apo.ParsePublicKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--merchant-public-key %s: %w", merchantPublicFile, err)
	}
	return apoKey, merchantKey, nil
}

// ensurePair makes sure <name>_private.pem and <name>_public.pem exist in
// dir and belong together. Files are created with a hard link from a
// temporary file, which fails when the name exists: when another process
// (the API, make run) creates the same pair at the same moment, one wins
// and the other adopts its key instead of overwriting it.
func ensurePair(dir, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	privPath := filepath.Join(dir, name+"_private.pem")
	pubPath := filepath.Join(dir, name+"_public.pem")
	if _, err := os.Stat(privPath); errors.Is(err, fs.ErrNotExist) {
		priv, pub, err := apo.GenerateKeyPEM()
		if err != nil {
			return err
		}
		if err := createFile(privPath, priv, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		} else if err == nil {
			// Our private key won; a public file left from an older pair
			// is stale, so replace it.
			_ = os.Remove(pubPath)
			if err := createFile(pubPath, pub, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
	}
	data, err := os.ReadFile(privPath)
	if err != nil {
		return err
	}
	priv, err := apo.ParsePrivateKey(data)
	if err != nil {
		return fmt.Errorf("%s: %w", privPath, err)
	}
	data, err = os.ReadFile(pubPath)
	if errors.Is(err, fs.ErrNotExist) {
		der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			return err
		}
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		if err := createFile(pubPath, pub, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		data, err = os.ReadFile(pubPath)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	pub, err := apo.ParsePublicKey(data)
	if err != nil {
		return fmt.Errorf("%s: %w", pubPath, err)
	}
	if !pub.Equal(&priv.PublicKey) {
		return fmt.Errorf("%s does not match %s", pubPath, privPath)
	}
	return nil
}

// createFile writes data to path with mode perm, failing with fs.ErrExist
// when path already exists. The content appears whole or not at all.
func createFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
