package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/documentcloud/crowd/config"
	"github.com/spf13/pflag"
)

// configFlags binds command-line flags to config keys.
type configFlags struct {
	file string
	keys map[string]string // flag name -> config key
}

func newConfigFlags(fs *pflag.FlagSet, keys map[string]string) *configFlags {
	cf := &configFlags{keys: keys}
	fs.StringVarP(&cf.file, "config", "c", "", "YAML config file (CloudCrowd's config.yml keys)")
	return cf
}

// load builds the configuration: defaults, then the file, then the flags
// that were given, then CROWD_* environment variables.
func (cf *configFlags) load(fs *pflag.FlagSet, log *slog.Logger) (config.Config, error) {
	c := config.Default()
	if cf.file != "" {
		unknown, err := c.LoadFile(cf.file)
		if err != nil {
			return c, err
		}
		if len(unknown) > 0 {
			log.Info("config keys crowd does not use", "file", cf.file, "keys", unknown)
		}
	}
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if key, ok := cf.keys[f.Name]; ok && err == nil {
			err = c.Set(key, f.Value.String())
		}
	})
	if err != nil {
		return c, err
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}
