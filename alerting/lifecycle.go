package alerting

import (
	"time"

	"github.com/harrierhq/harrier/alerting/dispatch"
	"github.com/harrierhq/harrier/alerting/notify"
)

// Dispatcher returns the alert lifecycle, or nil without Config.Routing.
func (a *Alerter) Dispatcher() *dispatch.Dispatcher { return a.dispatcher }

// notify hands every candidate, repeats included, to the dispatcher, which
// deduplicates them by fingerprint and keeps them firing. Called with
// raiseMu held.
func (a *Alerter) notify(alerts []candidate) {
	if a.dispatcher == nil {
		return
	}
	now := a.now()
	for _, c := range alerts {
		alert := toNotifyAlert(c, alertLink(a.link, c, a.cfg.ModelWindow), a.cfg.ModelWindow)
		a.dispatcher.Fire(alert, now)
		if c.Source == "model" {
			a.modelSeen[alert.Fingerprint()] = now
		}
	}
}

// resolveCleared resolves the rule alerts that a rule which ran without
// error no longer returns, and the model alerts that have not been raised
// for ModelNormalWindows windows.
//
// NOTE: the scorer sends only anomalous windows, so "normal windows" are
// counted as wall-clock windows without a new model alert, not read from
// the scores table.
func (a *Alerter) resolveCleared(evaluated map[string]bool, found []candidate) {
	if a.dispatcher == nil {
		return
	}
	a.raiseMu.Lock()
	defer a.raiseMu.Unlock()

	now := a.now()
	current := make(map[string]bool, len(found))
	for _, c := range found {
		current[toNotifyAlert(c, "", a.cfg.ModelWindow).Fingerprint()] = true
	}
	quiet := time.Duration(a.cfg.ModelNormalWindows) * a.cfg.ModelWindow
	for fp, labels := range a.dispatcher.Firing() {
		switch labels["source"] {
		case "rule":
			if evaluated[labels[notify.LabelAlertName]] && !current[fp] {
				a.dispatcher.Resolve(fp, now)
			}
		case "model":
			seen, ok := a.modelSeen[fp]
			if !ok || now.Sub(seen) >= quiet {
				a.dispatcher.Resolve(fp, now)
				delete(a.modelSeen, fp)
			}
		}
	}
}
