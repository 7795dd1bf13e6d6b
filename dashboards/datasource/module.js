// Front end of the Harrier data source: Grafana loads this AMD module
// next to plugin.json. It sends queries to the Go backend and substitutes
// dashboard variables (such as $container) into the filter fields, which
// the backend binds as parameters. Panels and provisioned dashboards set
// the query JSON directly; there is no query editor.
// NOTE: no test loads this module in Grafana; the Go tests cover only the
// backend.
define(['@grafana/data', '@grafana/runtime'], function (data, runtime) {
  'use strict';

  var fields = ['containerId', 'hostId', 'imageId', 'severity', 'rule', 'model', 'rawSql'];

  class HarrierDataSource extends runtime.DataSourceWithBackend {
    applyTemplateVariables(query, scopedVars) {
      var templateSrv = runtime.getTemplateSrv();
      var out = Object.assign({}, query);
      fields.forEach(function (field) {
        if (typeof out[field] === 'string') {
          out[field] = templateSrv.replace(out[field], scopedVars);
        }
      });
      return out;
    }
  }

  return { plugin: new data.DataSourcePlugin(HarrierDataSource) };
});
