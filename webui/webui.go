// Package webui is the admin console: static files embedded in the binary,
// served by transport.
package webui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the console's files, index.html at the root.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	return sub
}
