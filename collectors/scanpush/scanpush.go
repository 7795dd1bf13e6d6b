// Package scanpush receives scan reports over HTTP, so that a CI pipeline
// or a registry webhook can push them to the collector: POST /v1/scans with
// a bearer token and a Trivy, Grype, Clair or Anchore JSON report as the
// body. A report that cannot be parsed is rejected with the field and the
// reason, and kept in a folder for inspection.
package scanpush

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
)

// Path is the URL path the handler serves.
const Path = "/v1/scans"

// Defaults of Config.
const (
	DefaultMaxBytes    = 32 << 20
	DefaultMaxRejected = 1000
	// DefaultMaxRecordBytes is the default of Config.MaxRecordBytes, the
	// collector's default record limit.
	DefaultMaxRecordBytes = 1000000
)

// Config configures a Handler.
type Config struct {
	// Token is the bearer token every request must carry. Required: use
	// LoadToken to read it from a file or an environment variable.
	Token string
	// MaxBytes caps the request body, default 32 MiB. A larger body gets
	// HTTP 413.
	MaxBytes int64
	// RejectDir keeps the reports that could not be parsed, each as
	// <time>-<sha256 prefix>.json with a .reason.txt beside it. Empty keeps
	// none.
	RejectDir string
	// MaxRejected caps the reports kept in RejectDir, default 1000. Reports
	// rejected beyond it are counted but not kept.
	MaxRejected int
	// HostID is written into the envelope of every record.
	HostID string
	// MaxRecordBytes caps the encoded record of one report, default
	// DefaultMaxRecordBytes. It is smaller than MaxBytes because a record
	// must fit into one Kafka message, below the broker's
	// message.max.bytes. A larger report gets HTTP 413 and is kept in
	// RejectDir.
	MaxRecordBytes int
	// Metrics receives the records written, under their topic, and the
	// reports dropped as "too_large". Nil records none.
	Metrics *metrics.Role
}

// Emitter writes messages to Kafka. *spool.Spool and *produce.Producer
// implement it.
type Emitter interface {
	Write(ctx context.Context, msgs ...kafka.Message) error
}

// Stats counts the requests a Handler served since it was created.
type Stats struct {
	Accepted     int64
	Rejected     int64
	Kept         int64
	Unauthorized int64
	// TooLarge counts bodies above MaxBytes and reports whose record is
	// above MaxRecordBytes.
	TooLarge int64
	// EmitErrors counts parsed reports that could not be written to the
	// Emitter. The client gets HTTP 503 and may retry.
	EmitErrors int64
}

// Handler serves POST /v1/scans.
type Handler struct {
	cfg       Config
	tokenHash [sha256.Size]byte
	out       Emitter
	logger    *slog.Logger
	now       func() time.Time

	mu    sync.Mutex
	stats Stats
	kept  int
}

// New returns a handler that writes each accepted report to out. It fails
// when the token is empty or RejectDir cannot be created. A nil logger
// discards logs.
func New(cfg Config, out Emitter, logger *slog.Logger) (*Handler, error) {
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("missing scan push token: set a token file or environment variable, or disable the scan endpoint")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxRejected <= 0 {
		cfg.MaxRejected = DefaultMaxRejected
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		cfg:       cfg,
		tokenHash: sha256.Sum256([]byte(cfg.Token)),
		out:       out,
		logger:    logger.With("component", "scanpush"),
		now:       time.Now,
	}
	if cfg.RejectDir != "" {
		if err := os.MkdirAll(cfg.RejectDir, 0o700); err != nil {
			return nil, fmt.Errorf("create rejected scan folder %q: %w", cfg.RejectDir, err)
		}
		entries, err := os.ReadDir(cfg.RejectDir)
		if err != nil {
			return nil, fmt.Errorf("read rejected scan folder %q: %w", cfg.RejectDir, err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") {
				h.kept++
			}
		}
	}
	// Clear the token from the copy of the config, so that it can't be
	// printed by accident.
	h.cfg.Token = ""
	return h, nil
}

// LoadToken returns the token in file, or else in the environment variable
// env. Surrounding white space is removed. It fails when neither is set or
// the token is empty.
func LoadToken(file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read scan push token file %q: %w", file, err)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return "", fmt.Errorf("invalid scan push token file %q: the file is empty", file)
		}
		return token, nil
	}
	if env != "" {
		token := strings.TrimSpace(os.Getenv(env))
		if token == "" {
			return "", fmt.Errorf("missing scan push token: environment variable %s is empty or unset", env)
		}
		return token, nil
	}
	return "", errors.New("missing scan push token: set a token file or an environment variable name")
}

// Stats returns a copy of the handler's counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// response is the JSON body of every reply.
type response struct {
	Status          string `json:"status"`
	Format          string `json:"format,omitempty"`
	ImageID         string `json:"image_id,omitempty"`
	ImageRef        string `json:"image_ref,omitempty"`
	Vulnerabilities *int   `json:"vulnerabilities,omitempty"`
	RecordID        string `json:"record_id,omitempty"`
	// Field and Reason explain a rejection.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Kept names the file the rejected report was kept as.
	Kept string `json:"kept,omitempty"`
}

// ServeHTTP handles one request. The optional query parameter format
// (trivy, grype, clair or anchore) skips format detection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, response{Status: "rejected", Reason: "method " + r.Method + " not allowed: use POST"})
		return
	}
	if !h.authorized(r) {
		h.count(func(s *Stats) { s.Unauthorized++ })
		h.logger.Warn("Scan push rejected: missing or invalid bearer token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="harrier"`)
		writeJSON(w, http.StatusUnauthorized, response{Status: "rejected", Field: "Authorization", Reason: "missing or invalid bearer token"})
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.count(func(s *Stats) { s.TooLarge++ })
			h.logger.Warn("Scan push rejected: body too large", "remote", r.RemoteAddr, "max_bytes", h.cfg.MaxBytes)
			writeJSON(w, http.StatusRequestEntityTooLarge, response{Status: "rejected", Field: "body",
				Reason: fmt.Sprintf("body larger than %d bytes", h.cfg.MaxBytes)})
			return
		}
		h.logger.Warn("Scan push rejected: body not read", "remote", r.RemoteAddr, "err", err)
		writeJSON(w, http.StatusBadRequest, response{Status: "rejected", Field: "body", Reason: "body not read: " + err.Error()})
		return
	}

	format := scan.Format(r.URL.Query().Get("format"))
	if format == "auto" {
		format = ""
	}
	res, err := scan.Parse(trimBOM(body), format)
	if err != nil {
		h.reject(w, r, body, err)
		return
	}

	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	if res.Scan.ScannedNs == 0 {
		res.Scan.ScannedNs = h.now().UnixNano()
	}
	rep := scan.Report{Path: "http/" + digest, Format: scan.Format(res.Scan.Scanner), Scan: res.Scan, CVSS: res.CVSS}
	rec := rep.Record()
	value, err := record.Encode(rec.Kind, rec.ID, h.cfg.HostID, rec.Source, h.now().UnixNano(), rec.Payload)
	if err != nil {
		h.reject(w, r, body, err)
		return
	}
	if len(value) > h.cfg.MaxRecordBytes {
		h.rejectTooLarge(w, r, body, len(value), res.Scan.ImageID)
		return
	}
	msg := kafka.Message{Topic: record.TopicFor(rec.Kind), Key: []byte(rec.Key), Value: value}
	if err := h.out.Write(r.Context(), msg); err != nil {
		h.count(func(s *Stats) { s.EmitErrors++ })
		h.logger.Warn("Scan report not written to Kafka", "image_id", res.Scan.ImageID, "sha256", digest, "err", err)
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusServiceUnavailable, response{Status: "retry", Reason: "report not written to Kafka, retry later"})
		return
	}

	h.count(func(s *Stats) { s.Accepted++ })
	h.cfg.Metrics.Out(msg.Topic, 1)
	n := len(res.Scan.Vulnerabilities)
	h.logger.Info("Scan report accepted", "format", res.Scan.Scanner, "image_id", res.Scan.ImageID,
		"vulnerabilities", n, "record_id", rec.ID)
	writeJSON(w, http.StatusAccepted, response{Status: "accepted", Format: res.Scan.Scanner, ImageID: res.Scan.ImageID,
		ImageRef: res.Scan.ImageRef, Vulnerabilities: &n, RecordID: rec.ID})
}

// authorized compares the bearer token in constant time. Hashing both
// sides first keeps the comparison time independent of the token length.
func (h *Handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1
}

// fieldPattern finds the field an error of package scan names, as in
// "missing field vulnerabilities[3].vuln" or "field SchemaVersion=3".
var fieldPattern = regexp.MustCompile(`field ([^\s:=]+)`)

// rejectedField returns the field a parse error is about, or "" when the
// error names none.
func rejectedField(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return typeErr.Field
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return "body (JSON syntax error at byte " + strconv.FormatInt(syntaxErr.Offset, 10) + ")"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown scan report format") {
		return "format"
	}
	if m := fieldPattern.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

func (h *Handler) reject(w http.ResponseWriter, r *http.Request, body []byte, parseErr error) {
	resp := response{Status: "rejected", Field: rejectedField(parseErr), Reason: parseErr.Error()}
	kept, keepErr := h.keep(body, parseErr)
	if keepErr != nil {
		h.logger.Warn("Rejected scan report not kept", "dir", h.cfg.RejectDir, "err", keepErr)
	}
	resp.Kept = kept
	h.count(func(s *Stats) {
		s.Rejected++
		if kept != "" {
			s.Kept++
		}
	})
	h.logger.Warn("Scan push rejected: report not parsed", "remote", r.RemoteAddr, "field", resp.Field, "err", parseErr, "kept", kept)
	writeJSON(w, http.StatusBadRequest, resp)
}

// rejectTooLarge replies HTTP 413 to a report whose record of size bytes
// is above MaxRecordBytes, and keeps the body in RejectDir.
func (h *Handler) rejectTooLarge(w http.ResponseWriter, r *http.Request, body []byte, size int, imageID string) {
	reason := fmt.Errorf("scan report record is %d bytes, larger than the maximum record size of %d bytes (collect.max_record_bytes): split the report or raise the limit together with the broker's message.max.bytes",
		size, h.cfg.MaxRecordBytes)
	kept, keepErr := h.keep(body, reason)
	if keepErr != nil {
		h.logger.Warn("Rejected scan report not kept", "dir", h.cfg.RejectDir, "err", keepErr)
	}
	h.count(func(s *Stats) {
		s.TooLarge++
		if kept != "" {
			s.Kept++
		}
	})
	h.cfg.Metrics.Dropped("too_large", 1)
	h.logger.Warn("Scan push rejected: record too large", "remote", r.RemoteAddr, "image_id", imageID,
		"bytes", size, "max_record_bytes", h.cfg.MaxRecordBytes, "kept", kept)
	writeJSON(w, http.StatusRequestEntityTooLarge, response{Status: "rejected", Field: "body", Reason: reason.Error(), Kept: kept})
}

// keep writes a rejected body and its reason to RejectDir and returns the
// body's file name, or "" when RejectDir is unset or full.
func (h *Handler) keep(body []byte, reason error) (string, error) {
	if h.cfg.RejectDir == "" {
		return "", nil
	}
	h.mu.Lock()
	if h.kept >= h.cfg.MaxRejected {
		h.mu.Unlock()
		return "", fmt.Errorf("rejected scan folder contains %d reports, the maximum: delete some to keep more", h.cfg.MaxRejected)
	}
	h.kept++
	h.mu.Unlock()

	sum := sha256.Sum256(body)
	name := h.now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(sum[:6]) + ".json"
	path := filepath.Join(h.cfg.RejectDir, name)
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return "", fmt.Errorf("write rejected scan report: %w", err)
	}
	reasonPath := strings.TrimSuffix(path, ".json") + ".reason.txt"
	if err := os.WriteFile(reasonPath, []byte(reason.Error()+"\n"), 0o600); err != nil {
		return name, fmt.Errorf("write reason of rejected scan report %s: %w", name, err)
	}
	return name, nil
}

func (h *Handler) count(update func(*Stats)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	update(&h.stats)
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, resp response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(resp)
}
