package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ServerBinary is the program StartLocal runs, looked up on PATH.
const ServerBinary = "clickhouse-server"

// UsersConfig is the users file of the Debian clickhouse-server package,
// which defines the "default" user without a password.
const UsersConfig = "/etc/clickhouse-server/users.xml"

// localStartTimeout bounds how long StartLocal waits for the first ping.
const localStartTimeout = 20 * time.Second

// LocalServer is a clickhouse-server process started by StartLocal, with
// its data, logs and config in one directory.
type LocalServer struct {
	// Addr is the native protocol address, 127.0.0.1:PORT.
	Addr string
	// HTTPAddr is the HTTP interface address, 127.0.0.1:PORT.
	HTTPAddr string
	// PID is the process id of the server.
	PID int
	// Dir contains config.xml, the data and the logs.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{}
	logger *slog.Logger
}

// The root element is <yandex> because 18.16 requires it; current servers
// still accept it.
var localConfig = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{{.Dir}}/clickhouse-server.log</log>
        <errorlog>{{.Dir}}/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>536870912</mark_cache_size>
    <path>{{.Dir}}/data/</path>
    <tmp_path>{{.Dir}}/tmp/</tmp_path>
    <user_files_path>{{.Dir}}/user_files/</user_files_path>
    <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
    <users_config>{{.Users}}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
</yandex>
`))

// StartLocal starts clickhouse-server from PATH with its data in dir,
// listening only on 127.0.0.1 with free native and HTTP ports, and waits
// until it responds to a ping. The server runs in its own process group.
// Call Stop to end it.
func StartLocal(ctx context.Context, dir string, logger *slog.Logger) (*LocalServer, error) {
	return StartLocalOnPorts(ctx, dir, 0, 0, logger)
}

// StartLocalOnPorts is StartLocal with the native (tcpPort) and HTTP
// (httpPort) ports given; 0 picks a free port. Starting again on the dir
// and ports of a stopped server brings back the same server with its data,
// which is how tests restart ClickHouse under a running client.
func StartLocalOnPorts(ctx context.Context, dir string, tcpPort, httpPort int, logger *slog.Logger) (*LocalServer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "clickhouse-local")

	binary, err := exec.LookPath(ServerBinary)
	if err != nil {
		return nil, fmt.Errorf("%s not found on PATH: install it with `apt-get install clickhouse-server`: %w", ServerBinary, err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve clickhouse directory %q: %w", dir, err)
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create clickhouse directory: %w", err)
		}
	}

	if tcpPort == 0 {
		if tcpPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if httpPort == 0 {
		if httpPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	var config bytes.Buffer
	err = localConfig.Execute(&config, map[string]any{"Dir": dir, "TCPPort": tcpPort, "HTTPPort": httpPort, "Users": UsersConfig})
	if err != nil {
		return nil, fmt.Errorf("render clickhouse config: %w", err)
	}
	configPath := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(configPath, config.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write clickhouse config: %w", err)
	}

	cmd := exec.Command(binary, "--config-file="+configPath)
	cmd.Dir = dir
	// Pdeathsig ends the server when the process that started it dies
	// without calling Stop, for example a test binary that timed out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdout, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("create clickhouse stdout log: %w", err)
	}
	defer stdout.Close()
	cmd.Stdout = stdout
	cmd.Stderr = stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}

	l := &LocalServer{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort)),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		PID:      cmd.Process.Pid,
		Dir:      dir,
		cmd:      cmd,
		exited:   make(chan struct{}),
		logger:   logger,
	}
	go func() {
		_ = cmd.Wait()
		close(l.exited)
	}()

	if err := l.waitReady(ctx); err != nil {
		_ = l.Stop()
		return nil, err
	}
	logger.Info("Started clickhouse-server", "addr", l.Addr, "pid", l.PID, "dir", dir)
	return l, nil
}

// waitReady pings the server until it responds, the process exits or the
// start timeout passes.
func (l *LocalServer) waitReady(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, localStartTimeout)
	defer cancel()

	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{l.Addr},
		DialTimeout: time.Second,
	})
	if err != nil {
		return fmt.Errorf("open clickhouse %s: %w", l.Addr, err)
	}
	defer conn.Close()

	var lastErr error
	for {
		pingCtx, pingCancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr = conn.Ping(pingCtx)
		pingCancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-l.exited:
			return fmt.Errorf("clickhouse-server (pid %d) exited during start-up; error log:\n%s", l.PID, l.errorLogTail())
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("start of clickhouse-server (pid %d) cancelled: %w", l.PID, parent.Err())
			}
			return fmt.Errorf("clickhouse-server (pid %d) did not respond to a ping on %s within %s: %w; error log:\n%s",
				l.PID, l.Addr, localStartTimeout, lastErr, l.errorLogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errorLogTail returns the last lines of the server's error log, or of its
// standard output when the error log is empty.
func (l *LocalServer) errorLogTail() string {
	for _, name := range []string{"clickhouse-server.err.log", "stdout.log"} {
		b, err := os.ReadFile(filepath.Join(l.Dir, name))
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		return string(bytes.Join(lines, []byte("\n")))
	}
	return "(empty)"
}

// Stop sends SIGTERM to the server, waits up to 10 s for it to exit, then
// sends SIGKILL. Calling Stop again after the server exited does nothing.
func (l *LocalServer) Stop() error {
	select {
	case <-l.exited:
		return nil
	default:
	}
	if err := syscall.Kill(l.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop clickhouse-server pid %d: %w", l.PID, err)
	}
	select {
	case <-l.exited:
		l.logger.Info("Stopped clickhouse-server", "pid", l.PID)
		return nil
	case <-time.After(10 * time.Second):
	}
	l.logger.Warn("clickhouse-server did not exit after SIGTERM, killing it", "pid", l.PID)
	if err := syscall.Kill(l.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill clickhouse-server pid %d: %w", l.PID, err)
	}
	<-l.exited
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that the kernel reports free.
// Another process could take it before the server binds it, and then the
// start fails with the bind error in the log.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
