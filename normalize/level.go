package normalize

import "strings"

// Event levels stored in events.level.
const (
	LevelError = "error"
	LevelWarn  = "warn"
	LevelInfo  = "info"
	LevelDebug = "debug"
)

// levelScanBytes bounds how much of a message DeriveLevel reads, so a huge
// line costs no more than a short one.
const levelScanBytes = 2048

// explicitLevels maps the level names that logging libraries print to an
// event level.
var explicitLevels = map[string]string{
	"emerg": LevelError, "emergency": LevelError, "alert": LevelError, "crit": LevelError,
	"critical": LevelError, "fatal": LevelError, "panic": LevelError, "severe": LevelError,
	"error": LevelError, "err": LevelError, "eror": LevelError,
	"warn": LevelWarn, "warning": LevelWarn, "wrn": LevelWarn,
	"notice": LevelInfo, "info": LevelInfo, "inf": LevelInfo, "information": LevelInfo,
	"debug": LevelDebug, "dbg": LevelDebug, "trace": LevelDebug, "trc": LevelDebug,
}

// levelKeys are the keys that introduce a level in key=value and JSON logs.
var levelKeys = map[string]bool{"level": true, "lvl": true, "severity": true, "loglevel": true, "log_level": true}

// ambiguousLeadingWords are level names that also start ordinary sentences
// ("alert sent", "trace id ..."), so they count only after a level key.
var ambiguousLeadingWords = map[string]bool{"alert": true, "trace": true}

// errorWords and warnWords mark a message without an explicit level.
var (
	errorWords = map[string]bool{
		"error": true, "err": true, "exception": true, "failed": true, "failure": true, "fatal": true,
		"panic": true, "traceback": true, "critical": true, "segfault": true, "refused": true,
	}
	warnWords = map[string]bool{"warn": true, "warning": true, "deprecated": true}
)

// DeriveLevel returns the level of a log message, "error", "warn", "info"
// or "debug", from its first 2 KiB, in this order of precedence:
//
//  1. a klog prefix: "E0102 ..." is error, "W" warn, "I" info, "F" error;
//  2. the word after a level key, as in `level=warn` or `"severity":"ERROR"`;
//  3. a level name other than alert and trace among the first four words,
//     as in "[error] ..." (Apache)
//     or "2024-01-02T03:04:05Z WARN ..." (digits are not words);
//  4. any error word (error, err, exception, failed, failure, fatal, panic,
//     traceback, critical, segfault, refused), then any warning word (warn,
//     warning, deprecated);
//  5. otherwise info.
//
// Words are runs of ASCII letters and underscores, compared in lower case.
// The stream is not used, because many programs log everything to stderr.
func DeriveLevel(message string) string {
	if len(message) > levelScanBytes {
		message = message[:levelScanBytes]
	}
	if level, ok := klogLevel(message); ok {
		return level
	}

	words := splitWords(message)
	for i := 0; i+1 < len(words); i++ {
		if levelKeys[words[i]] {
			if level, ok := explicitLevels[words[i+1]]; ok {
				return level
			}
		}
	}
	for i := 0; i < len(words) && i < 4; i++ {
		if ambiguousLeadingWords[words[i]] {
			continue
		}
		if level, ok := explicitLevels[words[i]]; ok {
			return level
		}
	}

	warn := false
	for _, w := range words {
		if errorWords[w] {
			return LevelError
		}
		if warnWords[w] {
			warn = true
		}
	}
	if warn {
		return LevelWarn
	}
	return LevelInfo
}

// klogLevel recognises the klog header "Lmmdd hh:mm:ss.uuuuuu", used by
// Kubernetes components, where L is I, W, E or F.
func klogLevel(message string) (string, bool) {
	if len(message) < 6 || message[5] != ' ' {
		return "", false
	}
	for _, c := range message[1:5] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	switch message[0] {
	case 'I':
		return LevelInfo, true
	case 'W':
		return LevelWarn, true
	case 'E', 'F':
		return LevelError, true
	}
	return "", false
}

// splitWords returns the lower-cased runs of ASCII letters and underscores.
func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z') && r != '_'
	})
}
