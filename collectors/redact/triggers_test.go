package redact

import "testing"

// FuzzTriggers checks that the keyword scan is never narrower than the
// rules: whenever a rule's regexp matches, triggers has set its bit, so no
// secret skips its regexp.
func FuzzTriggers(f *testing.F) {
	for _, s := range []string{
		"password=x", `"db_password": "x"`, "PWD :x", "passwd\t=x", "Failed password for root from 10.0.0.1",
		"Authorization: Bearer abc", "authorization: basic dXNlcjpwYXNz", "AKIAIOSFODNN7EXAMPLE",
		"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ", "https://u:p@host/", "-----BEGIN RSA PRIVATE KEY-----",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mask := triggers(s)
		for i, r := range rules {
			if r.re.MatchString(s) && mask&(1<<i) == 0 {
				t.Errorf("rule %s matches %q, but triggers did not set its bit", r.name, s)
			}
		}
	})
}

func TestPasswordTriggerNeedsAssignment(t *testing.T) {
	cases := map[string]bool{
		"Failed password for invalid user admin from 173.234.31.1 port 38926 ssh2": false,
		"password=hunter2":    true,
		`{"password": "x"}`:   true,
		"DB_PASSWD = x":       true,
		"pwd: x":              true,
		"reset your password": false,
	}
	for s, want := range cases {
		if got := triggers(s)&passwordRule != 0; got != want {
			t.Errorf("triggers(%q) password bit = %v, want %v", s, got, want)
		}
	}
}
