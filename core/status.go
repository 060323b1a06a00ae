package core

// Status is CloudCrowd's status code, shared by jobs and units. A unit's
// status is the phase it belongs to until it is complete.
type Status uint8

const (
	Processing Status = 1
	Succeeded  Status = 2
	Failed     Status = 3
	Splitting  Status = 4
	Merging    Status = 5
)

var statusNames = [...]string{"unknown", "processing", "succeeded", "failed", "splitting", "merging"}

// String is the display name used in JSON; codes outside 1..5 show as unknown.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return statusNames[0]
}

// Complete reports whether s is a final status.
func (s Status) Complete() bool { return s == Succeeded || s == Failed }
