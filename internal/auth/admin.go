package auth

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/postgres"
)

// Keys changes API keys. Each change is written with its audit row in one
// transaction: a key the audit log cannot account for must not exist, and
// an audit row must not claim a change that was rolled back.
type Keys struct{ db *sqlx.DB }

// NewKeys returns the key administration of db.
func NewKeys(db *sqlx.DB) *Keys { return &Keys{db: db} }

// Create makes a key; entry builds its audit row from the key made.
func (k *Keys) Create(ctx context.Context, nk NewKey, entry func(Key) audit.Entry) (Key, Secret, error) {
	var (
		key    Key
		secret Secret
	)
	err := postgres.InTx(ctx, k.db, func(tx *sqlx.Tx) error {
		var err error
		if key, secret, err = NewStore(tx).Create(ctx, nk); err != nil {
			return err
		}
		return audit.NewStore(tx).Record(ctx, entry(key))
	})
	return key, secret, err
}

// Revoke revokes the key id and writes the audit row e.
func (k *Keys) Revoke(ctx context.Context, id string, e audit.Entry) error {
	return postgres.InTx(ctx, k.db, func(tx *sqlx.Tx) error {
		if _, err := NewStore(tx).Revoke(ctx, id); err != nil {
			return err
		}
		return audit.NewStore(tx).Record(ctx, e)
	})
}
