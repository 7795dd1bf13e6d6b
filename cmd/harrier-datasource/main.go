// Command harrier-datasource is Harrier's Grafana backend data-source
// plugin. Grafana starts it; it is not meant to be run by hand. Build it
// into the plugin folder next to plugin.json under the executable name
// that plugin.json gives, with the platform suffix:
//
//	go build -o dist/gpx_harrier_linux_amd64 ./cmd/harrier-datasource
//	cp dashboards/datasource/plugin.json dist/
package main

import (
	"log/slog"
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"

	harrierds "github.com/harrierhq/harrier/dashboards/datasource"
)

func main() {
	// Grafana reads the plugin's stderr as its log.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if err := datasource.Manage(harrierds.PluginID, harrierds.NewInstance, datasource.ManageOpts{}); err != nil {
		slog.Error("Data source plugin stopped", "component", "datasource", "err", err)
		os.Exit(1)
	}
}
