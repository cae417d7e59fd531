// Package migrations holds the ordered SQL schema migrations of payops.
// Number ranges by owner: 00001–00009 auth/audit, 00010–00019 payments,
// 00020–00029 disputes, 00030–00039 recon, 00046–00049 console users,
// 00050 bank accounts and statements.
package migrations

import "embed"

// FS contains every migration file, at the root of the file system.
//
//go:embed *.sql
var FS embed.FS
