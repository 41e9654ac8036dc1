// Package config reads robotgate's TOML configuration (SPEC section 2):
// typed structs, defaults as named constants, strict decoding (an unknown
// key is an error naming it) and a Validate that reports every problem at
// once.
package config
