package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// graphicsMagick is CloudCrowd's graphics_magick: it runs each of
// options.steps, `gm <command> <options...> <in> <out>`, on the input image
// (or on the output of the step named by the step's input), saves every
// output and returns {step name: URL}.
type graphicsMagick struct{}

// gmStep is one entry of options.steps.
type gmStep struct {
	Name      string `json:"name"`
	Command   string `json:"command"`   // convert, mogrify…
	Options   string `json:"options"`   // split on whitespace: no shell, so no quoting either
	Extension string `json:"extension"` // the output's type
	Input     string `json:"input"`     // a previous step's name; "" = the input image
}

func (graphicsMagick) Process(ctx context.Context, u *Unit) (any, error) {
	if u.InputPath == "" {
		return nil, errors.New("graphics_magick: the input must be the URL of an image")
	}
	var steps []gmStep
	if err := optionAs(u.Options, "steps", &steps); err != nil || len(steps) == 0 {
		return nil, fmt.Errorf("graphics_magick: options.steps must be a non-empty array of {name, command, options, extension, input?} (%v)", err)
	}
	base := fileName(u.InputPath)
	outputs := make(map[string]string, len(steps)) // step name → local file
	urls := make(map[string]string, len(steps))
	for _, s := range steps {
		if !safeName(s.Name) || !safeName(s.Extension) || s.Command == "" || strings.HasPrefix(s.Command, "-") {
			return nil, fmt.Errorf("graphics_magick: bad step %+v: name and extension must be letters, digits, _ or -, and command a gm command", s)
		}
		if _, dup := outputs[s.Name]; dup {
			return nil, fmt.Errorf("graphics_magick: two steps are named %q", s.Name)
		}
		in := u.InputPath
		if s.Input != "" {
			var ok bool
			if in, ok = outputs[s.Input]; !ok {
				return nil, fmt.Errorf("graphics_magick: step %q reads step %q, which does not come before it", s.Name, s.Input)
			}
		}
		out := filepath.Join(u.WorkDir, base+"_"+s.Name+"."+s.Extension)
		args := append(append([]string{s.Command}, strings.Fields(s.Options)...), in, out)
		if err := runTool(ctx, u.WorkDir, "gm", args...); err != nil {
			return nil, fmt.Errorf("graphics_magick step %q: %w", s.Name, err)
		}
		url, err := u.save(ctx, out)
		if err != nil {
			return nil, fmt.Errorf("graphics_magick step %q: saving: %w", s.Name, err)
		}
		outputs[s.Name], urls[s.Name] = out, url
	}
	return urls, nil
}

// optionAs decodes options[key] into v through JSON, which checks its shape
// more simply than walking maps of any; a missing key leaves v alone.
func optionAs(options map[string]any, key string, v any) error {
	raw, ok := options[key]
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// fileName is CloudCrowd's file_name: the base name of path without its
// extension.
func fileName(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// safeName reports whether s is a non-empty run of ASCII letters, digits, _
// and -: it becomes part of file names and of directories in tar files.
func safeName(s string) bool {
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return s != ""
}
