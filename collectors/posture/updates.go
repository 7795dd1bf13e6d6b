package posture

import (
	"fmt"
	"regexp"
	"strconv"
)

// updatesAvailablePattern matches the security line of Ubuntu's
// update-notifier file, such as "3 of these updates are standard security
// updates." or "2 updates are security updates.".
var updatesAvailablePattern = regexp.MustCompile(`(?m)^\s*([0-9]+) (?:of these )?updates? (?:is|are) (?:a )?(?:standard )?security updates?\.`)

// pendingNonePattern matches the file's line when nothing is pending.
var pendingNonePattern = regexp.MustCompile(`(?m)^\s*0 updates can be applied immediately\.|^\s*0 packages can be updated\.`)

// ParseUpdatesAvailable returns the number of pending security updates in
// /var/lib/update-notifier/updates-available, which apt's update-notifier
// hook writes on Ubuntu after each package list refresh. A file that
// mentions neither security updates nor "0 updates" is an error.
func ParseUpdatesAvailable(b []byte) (int, error) {
	if m := updatesAvailablePattern.FindSubmatch(b); m != nil {
		n, err := strconv.Atoi(string(m[1]))
		if err != nil {
			return 0, fmt.Errorf("invalid updates-available count %q: %w", m[1], err)
		}
		return n, nil
	}
	if len(b) == 0 || pendingNonePattern.Match(b) {
		return 0, nil
	}
	return 0, fmt.Errorf("invalid updates-available file: no line counting security updates or reporting 0 updates")
}
