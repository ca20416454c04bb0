package healthrecord

import (
	"strconv"
	"unicode/utf8"
)

// Dialect turns the canonical Record into one province's upload body,
// which is encoded as JSON.
type Dialect interface {
	// Name names the dialect in errors, e.g. "shared".
	Name() string
	// Upload returns the upload body of r.
	Upload(r Record) (any, error)
}

// DefaultFieldLimits returns the character limits Shared applies by
// default: one public client truncates part names at 50 characters. The
// exact JT/T 1132.3 field lengths were not found (unverified), so every
// limit is configurable.
func DefaultFieldLimits() map[string]int { return map[string]int{"partsname": 50} }

// Shared is the dialect of the upload API many provinces share, method
// lcipprocarfixrecordadd (DOMAIN.md section 1). Its zero value uses
// DefaultFieldLimits and includes the M-station extension.
type Shared struct {
	// FieldLimits caps upload fields, by upload field name (e.g.
	// "partsname", "faultdescription"), in characters (Unicode code points,
	// not bytes: names are Chinese). A longer value is truncated. nil means
	// DefaultFieldLimits(); a limit of 0 means no limit.
	FieldLimits map[string]int
	// OmitExtension leaves out "x_bayagent_mstation", for a province that
	// refuses unknown members.
	OmitExtension bool
}

// Upload is the body of lcipprocarfixrecordadd. Every value is a string.
type Upload struct {
	BasicInfo         BasicInfo       `json:"basicInfo"`
	VehiclePartsList  []UploadPart    `json:"vehiclepartslist"`
	RepairProjectList []UploadProject `json:"repairprojectlist"`
	// MStation is the Bayagent extension: NOT part of the shared API.
	MStation *MStation `json:"x_bayagent_mstation,omitempty"`
	// ClockUnsynced is "true" when the job was settled while the box's
	// clock was not synchronised (the Bayagent extension, too).
	ClockUnsynced string `json:"x_bayagent_clock_unsynchronised,omitempty"`
}

// BasicInfo is the record's basicInfo object.
type BasicInfo struct {
	VehiclePlateNumber string `json:"vehicleplatenumber"`
	CompanyName        string `json:"companyname"`
	VIN                string `json:"vin"`
	RepairDate         string `json:"repairdate"`    // yyyyMMdd
	RepairMileage      string `json:"repairmileage"` // km
	SettleDate         string `json:"settledate"`    // yyyyMMdd
	FaultDescription   string `json:"faultdescription"`
	CostListCode       string `json:"costlistcode"`
	// TestNo is added for emission repairs; its place in basicInfo is
	// unverified.
	TestNo string `json:"test_no,omitempty"`
}

// UploadPart is one entry of vehiclepartslist.
type UploadPart struct {
	PartsName     string `json:"partsname"`
	PartsCode     string `json:"partscode"`
	PartsQuantity string `json:"partsquantity"`
}

// UploadProject is one entry of repairprojectlist.
type UploadProject struct {
	RepairProject string `json:"repairproject"`
	WorkingHours  string `json:"workinghours"`
}

// Name implements Dialect.
func (Shared) Name() string { return "shared" }

// Upload implements Dialect; it returns an Upload.
func (s Shared) Upload(r Record) (any, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	cut := cutter(s.FieldLimits)
	u := Upload{
		BasicInfo: BasicInfo{
			VehiclePlateNumber: cut("vehicleplatenumber", r.Plate),
			CompanyName:        cut("companyname", r.CompanyName),
			VIN:                r.VIN,
			RepairDate:         r.RepairDate,
			RepairMileage:      strconv.Itoa(r.MileageKM),
			SettleDate:         r.SettleDate,
			FaultDescription:   cut("faultdescription", r.FaultDescription),
			CostListCode:       cut("costlistcode", r.SettlementNo),
			TestNo:             cut("test_no", r.TestNo),
		},
		VehiclePartsList:  []UploadPart{},
		RepairProjectList: []UploadProject{},
	}
	for _, p := range r.Parts {
		u.VehiclePartsList = append(u.VehiclePartsList, UploadPart{
			PartsName:     cut("partsname", p.Name),
			PartsCode:     cut("partscode", p.Code),
			PartsQuantity: p.Quantity,
		})
	}
	for _, p := range r.Projects {
		u.RepairProjectList = append(u.RepairProjectList, UploadProject{
			RepairProject: cut("repairproject", p.Name),
			WorkingHours:  p.WorkingHours,
		})
	}
	if !s.OmitExtension {
		u.MStation = r.MStation
		if r.ClockUnsynced {
			u.ClockUnsynced = "true"
		}
	}
	return u, nil
}

// cutter truncates upload fields to limits, by upload field name (nil:
// DefaultFieldLimits()).
func cutter(limits map[string]int) func(field, v string) string {
	if limits == nil {
		limits = DefaultFieldLimits()
	}
	return func(field, v string) string { return truncate(v, limits[field]) }
}

// truncate keeps the first n characters of s (n <= 0: all).
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
