// Package accounts owns the service-account list (SPEC section 3): it
// parses and validates the account file, keeps the current list behind an
// atomic pointer that hot reload swaps, authenticates Basic credentials
// (bcrypt behind an LRU cache of verified credentials) and edits the file
// on disk without ever losing an account.
package accounts
