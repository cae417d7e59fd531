// Package apo is a client for Antom's APO payment gateway. It speaks APO's
// wire types, signs every request and verifies every response and
// notification; it knows nothing about our database or domain.
package apo
