//go:build !linux

package deps

// exchange is not available outside Linux; swapDir renames instead.
func exchange(a, b string) error { return errNoExchange }
