// Package v2 stands in for Grafana's v2 dashboard API types, which the Go
// module proxy does not serve at the version dashboard-linter requires. Only
// the names dashboard-linter's lint/v2.go uses exist; decoding any v2 spec
// fails on purpose (README.md).
package v2

import "errors"

var errUnsupported = errors.New("v2 dashboards are not supported by this build of dashboard-linter (hack/tools/linter/dashv2stub)")

type DashboardVariableRefresh string

const (
	DashboardVariableRefreshNever              DashboardVariableRefresh = "never"
	DashboardVariableRefreshOnDashboardLoad    DashboardVariableRefresh = "onDashboardLoad"
	DashboardVariableRefreshOnTimeRangeChanged DashboardVariableRefresh = "onTimeRangeChanged"
)

type DashboardSpec struct {
	Title       string
	Editable    *bool
	Elements    map[string]DashboardElement
	Variables   []DashboardVariableKind
	Annotations []DashboardAnnotationQueryKind
}

// UnmarshalJSON refuses every v2 spec: see the package comment.
func (s *DashboardSpec) UnmarshalJSON([]byte) error { return errUnsupported }

type DashboardElement struct {
	PanelKind *DashboardPanelKind
}

type DashboardPanelKind struct {
	Spec DashboardPanelSpec
}

type DashboardPanelSpec struct {
	Id          float64
	Title       string
	Description string
	VizConfig   DashboardVizConfigKind
	Data        DashboardQueryGroupKind
}

type DashboardVizConfigKind struct {
	Group string
	Spec  DashboardVizConfigSpec
}

type DashboardVizConfigSpec struct {
	FieldConfig map[string]interface{}
	Options     map[string]interface{}
}

type DashboardQueryGroupKind struct {
	Spec DashboardQueryGroupSpec
}

type DashboardQueryGroupSpec struct {
	Queries []DashboardPanelQueryKind
}

type DashboardPanelQueryKind struct {
	Spec DashboardPanelQuerySpec
}

type DashboardPanelQuerySpec struct {
	RefId  string
	Hidden bool
	Query  DashboardDataQueryKind
}

type DashboardDataQueryKind struct {
	Group      string
	Datasource *DashboardDatasourceRef
	Spec       map[string]interface{}
}

type DashboardDatasourceRef struct {
	Name *string
}

type DashboardVariableKind struct {
	QueryVariableKind      *DashboardQueryVariableKind
	DatasourceVariableKind *DashboardDatasourceVariableKind
	CustomVariableKind     *DashboardCustomVariableKind
	IntervalVariableKind   *DashboardIntervalVariableKind
	ConstantVariableKind   *DashboardConstantVariableKind
	TextVariableKind       *DashboardTextVariableKind
	AdhocVariableKind      *DashboardAdhocVariableKind
	GroupByVariableKind    *DashboardGroupByVariableKind
	SwitchVariableKind     *DashboardSwitchVariableKind
}

type DashboardQueryVariableKind struct{ Spec DashboardQueryVariableSpec }

type DashboardQueryVariableSpec struct {
	Name     string
	Label    *string
	Multi    bool
	AllValue *string
	Refresh  DashboardVariableRefresh
	Query    DashboardDataQueryKind
}

type DashboardDatasourceVariableKind struct{ Spec DashboardDatasourceVariableSpec }

type DashboardDatasourceVariableSpec struct {
	Name     string
	Label    *string
	Multi    bool
	AllValue *string
	Refresh  DashboardVariableRefresh
	PluginId string
}

type DashboardCustomVariableKind struct{ Spec DashboardCustomVariableSpec }

type DashboardCustomVariableSpec struct {
	Name     string
	Label    *string
	Multi    bool
	AllValue *string
	Query    string
}

type DashboardIntervalVariableKind struct{ Spec DashboardNamedQuerySpec }
type DashboardConstantVariableKind struct{ Spec DashboardNamedQuerySpec }
type DashboardTextVariableKind struct{ Spec DashboardNamedQuerySpec }

type DashboardNamedQuerySpec struct {
	Name  string
	Label *string
	Query string
}

type DashboardAdhocVariableKind struct{ Spec DashboardNamedSpec }
type DashboardSwitchVariableKind struct{ Spec DashboardNamedSpec }

type DashboardNamedSpec struct {
	Name  string
	Label *string
}

type DashboardGroupByVariableKind struct{ Spec DashboardGroupBySpec }

type DashboardGroupBySpec struct {
	Name  string
	Label *string
	Multi bool
}

type DashboardAnnotationQueryKind struct{ Spec DashboardAnnotationQuerySpec }

type DashboardAnnotationQuerySpec struct {
	Name  string
	Query DashboardDataQueryKind
}
