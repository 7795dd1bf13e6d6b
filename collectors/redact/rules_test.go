package redact

import "testing"

func TestRuleBitsFollowRuleOrder(t *testing.T) {
	bits := map[string]int{
		"private_key": privateKeyRule, "bearer_token": bearerRule, "basic_auth_header": basicAuthRule,
		"aws_access_key_id": awsKeyIDRule, "aws_secret_access_key": awsSecretRule,
		"password": passwordRule, "url_password": urlPasswordRule,
	}
	if len(rules) != len(bits) {
		t.Fatalf("%d rules, %d bits", len(rules), len(bits))
	}
	for i, r := range rules {
		if bits[r.name] != 1<<i {
			t.Errorf("rule %d %q has bit %d, want %d", i, r.name, bits[r.name], 1<<i)
		}
	}
}
