package healthrecord

import (
	"fmt"
	"strconv"
	"time"
)

// PlateColorNames maps the job's plate colours onto the Chinese names the
// Guangdong dialect sends (蓝 blue, 黄 yellow, ...). From public uploader
// code, which sends "蓝" and "黑"; the others follow GA 36's names
// (unverified).
var PlateColorNames = map[string]string{
	"blue": "蓝", "yellow": "黄", "black": "黑", "white": "白", "green": "绿", "yellow_green": "黄绿",
}

// Guangdong is the dialect of the Guangdong (Foshan) .ashx interface
// (DOMAIN.md section 1): the shared fields flat in one "body" object, plus
// vehicleplatecolor; the client (cmd/bayreceiver/upload) wraps it with the
// access token and a date/time header and sends it URL-encoded in a GET.
// Its zero value uses DefaultFieldLimits.
type Guangdong struct {
	// FieldLimits caps fields as in Shared.
	FieldLimits map[string]int
}

// GuangdongBody is the "body" of upRepairInfo.ashx. Every value is a
// string.
type GuangdongBody struct {
	VehiclePlateNumber string          `json:"vehicleplatenumber"`
	VehiclePlateColor  string          `json:"vehicleplatecolor"`
	CompanyName        string          `json:"companyname"`
	VIN                string          `json:"vin"`
	RepairDate         string          `json:"repairdate"`
	RepairMileage      string          `json:"repairmileage"`
	SettleDate         string          `json:"settledate"`
	FaultDescription   string          `json:"faultdescription"`
	CostListCode       string          `json:"costlistcode"`
	VehiclePartsList   []UploadPart    `json:"vehiclepartslist"`
	RepairProjectList  []UploadProject `json:"repairprojectlist"`
}

// Name implements Dialect.
func (Guangdong) Name() string { return "guangdong" }

// Upload implements Dialect; it returns a GuangdongBody. A job without a
// plate colour cannot be sent (the colour is never guessed).
func (g Guangdong) Upload(r Record) (any, error) {
	sh, err := Shared{FieldLimits: g.FieldLimits, OmitExtension: true}.Upload(r)
	if err != nil {
		return nil, err
	}
	color, ok := PlateColorNames[r.PlateColor]
	if !ok {
		return nil, fmt.Errorf("%w: plate colour is empty: the Guangdong upload needs it (open the job with plate_color)", ErrIncomplete)
	}
	u := sh.(Upload)
	b := u.BasicInfo
	return GuangdongBody{
		VehiclePlateNumber: b.VehiclePlateNumber, VehiclePlateColor: color, CompanyName: b.CompanyName, VIN: b.VIN,
		RepairDate: b.RepairDate, RepairMileage: b.RepairMileage, SettleDate: b.SettleDate,
		FaultDescription: b.FaultDescription, CostListCode: b.CostListCode,
		VehiclePartsList: u.VehiclePartsList, RepairProjectList: u.RepairProjectList,
	}, nil
}

// ChinaTime is the zone of the staged dialect's times (China Standard
// Time, UTC+8, no daylight saving).
var ChinaTime = time.FixedZone("CST", 8*3600)

// StagedTimeLayout is how the staged dialect writes times (unverified).
const StagedTimeLayout = "2006-01-02 15:04:05"

// Staged is the dialect of the newer staged, signed API (DOMAIN.md
// section 1): stage 1 intake, stage 2 repair items, stage 3 settlement,
// keyed by the order code (the job id). The field names are ours: public
// code showed the stages and their content, not the names (unverified).
// What the job does not record and the API needs (fuel type, nature of
// use) comes from these fields, set per shop in the receiver's
// configuration; when one is empty the upload is refused, never guessed.
type Staged struct {
	// FieldLimits caps fields as in Shared.
	FieldLimits map[string]int
	// FuelType and NatureOfUse are the province's codes for the shop's
	// vehicles, when they are the same for all of them.
	FuelType, NatureOfUse string
	// ServiceTypes maps job types (repair, emission_repair) onto the
	// province's service type codes; nil sends the job type itself.
	ServiceTypes map[string]string
}

// StagedUpload is the three bodies of a staged upload.
type StagedUpload struct {
	Intake     StagedIntake     `json:"intake"`
	Items      StagedItems      `json:"items"`
	Settlement StagedSettlement `json:"settlement"`
}

// StagedIntake is stage 1, the vehicle taken in.
type StagedIntake struct {
	OrderCode        string `json:"orderCode"`
	VIN              string `json:"vin"`
	PlateNumber      string `json:"plateNumber"`
	RepairTime       string `json:"repairTime"` // when the job was opened
	Mileage          string `json:"mileage"`
	ServiceType      string `json:"serviceType"`
	FuelType         string `json:"fuelType"`
	FaultDescription string `json:"faultDescription"`
	NatureOfUse      string `json:"natureOfUse"`
	TestNo           string `json:"testNo,omitempty"`
}

// StagedItems is stage 2, the repair items and parts.
type StagedItems struct {
	OrderCode string       `json:"orderCode"`
	Items     []StagedItem `json:"items"`
	Parts     []StagedPart `json:"parts"`
}

// StagedItem is one repair project.
type StagedItem struct {
	ProjectName string `json:"projectName"`
	Hours       string `json:"hours"`
}

// StagedPart is one part; Unit is empty (the job does not record it).
type StagedPart struct {
	Name     string `json:"name"`
	Code     string `json:"code"`
	Quantity string `json:"quantity"`
	Unit     string `json:"unit"`
}

// StagedSettlement is stage 3.
type StagedSettlement struct {
	OrderCode    string `json:"orderCode"`
	SettlementNo string `json:"settlementNo"`
	TotalCost    string `json:"totalCost"`
	PayTime      string `json:"payTime"` // when the job was closed at settlement
}

// Name implements Dialect.
func (Staged) Name() string { return "staged" }

// Upload implements Dialect; it returns a StagedUpload.
func (s Staged) Upload(r Record) (any, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	cut := cutter(s.FieldLimits)
	serviceType := r.JobType
	if s.ServiceTypes != nil {
		serviceType = s.ServiceTypes[r.JobType]
	}
	for _, m := range []struct{ name, v string }{
		{"fuel type (upload.staged.fuel_type)", s.FuelType},
		{"nature of use (upload.staged.nature_of_use)", s.NatureOfUse},
		{"service type of " + r.JobType + " jobs (upload.staged.service_types)", serviceType},
		{"total cost (close_job total_cost)", r.TotalCost},
		{"opening time", timeOrEmpty(r.OpenedAt)},
		{"settlement time", timeOrEmpty(r.SettledAt)},
	} {
		if m.v == "" {
			return nil, fmt.Errorf("%w: %s is not recorded: the staged upload needs it", ErrIncomplete, m.name)
		}
	}
	u := StagedUpload{
		Intake: StagedIntake{
			OrderCode: r.JobID, VIN: r.VIN, PlateNumber: cut("plateNumber", r.Plate),
			RepairTime: r.OpenedAt.In(ChinaTime).Format(StagedTimeLayout), Mileage: strconv.Itoa(r.MileageKM),
			ServiceType: serviceType, FuelType: s.FuelType, FaultDescription: cut("faultDescription", r.FaultDescription),
			NatureOfUse: s.NatureOfUse, TestNo: r.TestNo,
		},
		Items: StagedItems{OrderCode: r.JobID, Items: []StagedItem{}, Parts: []StagedPart{}},
		Settlement: StagedSettlement{
			OrderCode: r.JobID, SettlementNo: r.SettlementNo, TotalCost: r.TotalCost,
			PayTime: r.SettledAt.In(ChinaTime).Format(StagedTimeLayout),
		},
	}
	for _, p := range r.Projects {
		u.Items.Items = append(u.Items.Items, StagedItem{ProjectName: cut("projectName", p.Name), Hours: p.WorkingHours})
	}
	for _, p := range r.Parts {
		u.Items.Parts = append(u.Items.Parts, StagedPart{Name: cut("partsname", p.Name), Code: p.Code, Quantity: p.Quantity})
	}
	return u, nil
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.String()
}
