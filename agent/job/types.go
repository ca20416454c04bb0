package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Type is the kind of repair job.
type Type string

// Job types.
const (
	// TypeRepair is an ordinary maintenance or repair job.
	TypeRepair Type = "repair"
	// TypeEmissionRepair is an emission-performance repair at an M station
	// for a vehicle that failed an emission inspection: it carries the
	// failed report's number (TestNo) and needs before and after readings.
	TypeEmissionRepair Type = "emission_repair"
)

var types = []string{string(TypeRepair), string(TypeEmissionRepair)}

// Phase places a scan or a reading in the repair.
type Phase string

// Phases.
const (
	// PhaseIntake: the vehicle as it arrived; a scan without a job is
	// always an intake scan.
	PhaseIntake Phase = "intake"
	// PhaseBeforeRepair: the job is open and the repair has not started.
	PhaseBeforeRepair Phase = "before_repair"
	// PhaseAfterRepair: the repair started (a note marked it, or DTCs were
	// cleared) or an after_repair event was recorded.
	PhaseAfterRepair Phase = "after_repair"
)

var (
	scanPhases    = []string{string(PhaseIntake), string(PhaseBeforeRepair), string(PhaseAfterRepair)}
	readingPhases = []string{string(PhaseBeforeRepair), string(PhaseAfterRepair)}
)

// PlateColor is the colour of the number plate (GA 36), which some
// provinces upload with the plate.
type PlateColor string

// Plate colours.
const (
	PlateBlue        PlateColor = "blue"         // small passenger cars
	PlateYellow      PlateColor = "yellow"       // large vehicles
	PlateBlack       PlateColor = "black"        // foreign, Hong Kong/Macao
	PlateWhite       PlateColor = "white"        // police, military
	PlateGreen       PlateColor = "green"        // small new-energy vehicles
	PlateYellowGreen PlateColor = "yellow_green" // large new-energy vehicles
)

var plateColors = []string{"blue", "yellow", "black", "white", "green", "yellow_green"}

// Limits on what a job holds.
const (
	maxPlate        = 16   // characters
	maxText         = 2000 // complaint, fault description, note, reason
	maxName         = 200  // item and part names; the upload truncates further
	maxCode         = 64   // part codes, settlement numbers, test_no
	maxTechnician   = 32
	maxItems        = 200
	maxParts        = 500
	maxMileageKM    = 9_999_999
	maxDecimalInt   = 6 // digits before the point
	maxDecimalFrac  = 3 // digits after the point
	shopCodeDigits  = 15
	maxBay          = 32
	maxJobIDLength  = 64
	dateLayout      = "2006-01-02"
	compactDateForm = "20060102"
)

// Opening is what a job is opened with.
type Opening struct {
	// ID is the job id given by the shop's software: 1 to 64 characters of
	// A-Z a-z 0-9 . _ : / -, starting with a letter or digit.
	ID   string `json:"job_id"`
	Type Type   `json:"type"`
	// Shop is the 15-digit company code of the repair shop in the
	// health-record system.
	Shop       string     `json:"shop"`
	Plate      string     `json:"plate"`
	PlateColor PlateColor `json:"plate_color,omitempty"`
	// VIN is optional: a job may be opened without it, and the first scan
	// with a valid VIN supplies it. When given it must pass obd.ValidateVIN
	// including the check digit (mandatory in China, GB 16735).
	VIN       string `json:"vin,omitempty"`
	MileageKM int    `json:"mileage_km"`
	// Complaint is the fault as the customer describes it; it becomes the
	// record's fault description unless the settlement overrides it.
	Complaint  string `json:"complaint"`
	Technician string `json:"technician"`
	// TestNo is the number of the failed emission inspection report; required
	// for emission_repair jobs, not allowed for others.
	TestNo string `json:"test_no,omitempty"`
}

// Validate checks every field and reports each problem.
func (o *Opening) Validate() error {
	var p problems
	o.check(&p, "")
	return p.err()
}

func (o *Opening) check(p *problems, prefix string) {
	checkJobID(p, prefix+"job_id", o.ID)
	checkEnum(p, prefix+"type", string(o.Type), types, true)
	if !isDigits(o.Shop, shopCodeDigits) {
		p.add(prefix+"shop", "must be the %d-digit company code: %q", shopCodeDigits, clip(o.Shop))
	}
	o.checkVehicle(p, prefix)
}

// checkVehicle checks the fields after job_id, type and shop.
func (o *Opening) checkVehicle(p *problems, prefix string) {
	checkLine(p, prefix+"plate", o.Plate, true, maxPlate)
	checkEnum(p, prefix+"plate_color", string(o.PlateColor), plateColors, false)
	if o.VIN != "" {
		if err := obd.ValidateVIN(o.VIN); err != nil {
			p.add(prefix+"vin", "is not a valid VIN: %v", err)
		}
	}
	checkMileage(p, prefix+"mileage_km", o.MileageKM)
	checkText(p, prefix+"complaint", o.Complaint, true, maxText)
	checkTechnician(p, prefix+"technician", o.Technician)
	switch {
	case o.Type == TypeEmissionRepair && o.TestNo == "":
		p.add(prefix+"test_no", "is required for emission_repair jobs (the failed inspection report number)")
	case o.Type != TypeEmissionRepair && o.TestNo != "":
		p.add(prefix+"test_no", "is only allowed for emission_repair jobs")
	case o.TestNo != "":
		checkCode(p, prefix+"test_no", o.TestNo)
	}
}

// Settlement is what a job is closed with when the customer settles.
type Settlement struct {
	// SettlementNo is the settlement (cost list) number, costlistcode.
	SettlementNo string `json:"settlement_no"`
	SettleDate   Date   `json:"settle_date"`
	RepairDate   Date   `json:"repair_date"`
	// Items are the repair projects with their working hours; at least one.
	Items []RepairItem `json:"items"`
	// Parts used; may be empty.
	Parts []Part `json:"parts"`
	// FaultDescription overrides the complaint given at opening.
	FaultDescription string `json:"fault_description,omitempty"`
	// EmissionWaiver explains why an emission_repair job closes without a
	// before or an after reading (for example: the analyzer was out of
	// service and the readings were taken by the inspection station).
	EmissionWaiver string `json:"emission_waiver,omitempty"`
	// TotalCost is the amount settled, in yuan, when the shop gives it;
	// provinces with the staged upload need it.
	TotalCost Decimal `json:"total_cost,omitempty"`
}

// RepairItem is one repair project of the settlement.
type RepairItem struct {
	Name         string  `json:"name"`
	WorkingHours Decimal `json:"working_hours"`
}

// Part is one part used, with its quantity.
type Part struct {
	Name string `json:"name"`
	// Code is the part number; may be empty for consumables without one
	// (whether the health-record system requires it is unverified).
	Code     string  `json:"code,omitempty"`
	Quantity Decimal `json:"quantity"`
}

// Validate checks the settlement on its own (Manager.Close also checks it
// against the job).
func (s *Settlement) Validate() error {
	var p problems
	s.check(&p, "")
	return p.err()
}

func (s *Settlement) check(p *problems, prefix string) {
	checkCode(p, prefix+"settlement_no", s.SettlementNo)
	settle, okS := s.SettleDate.check(p, prefix+"settle_date")
	repair, okR := s.RepairDate.check(p, prefix+"repair_date")
	if okS && okR && repair.After(settle) {
		p.add(prefix+"repair_date", "must not be after settle_date (%s > %s)", s.RepairDate, s.SettleDate)
	}
	switch {
	case len(s.Items) == 0:
		p.add(prefix+"items", "must list at least one repair item")
	case len(s.Items) > maxItems:
		p.add(prefix+"items", "must list at most %d repair items, got %d", maxItems, len(s.Items))
	default:
		for i, it := range s.Items {
			f := fmt.Sprintf("%sitems[%d].", prefix, i)
			checkLine(p, f+"name", it.Name, true, maxName)
			it.WorkingHours.check(p, f+"working_hours", true)
		}
	}
	if len(s.Parts) > maxParts {
		p.add(prefix+"parts", "must list at most %d parts, got %d", maxParts, len(s.Parts))
	} else {
		for i, pt := range s.Parts {
			f := fmt.Sprintf("%sparts[%d].", prefix, i)
			checkLine(p, f+"name", pt.Name, true, maxName)
			if pt.Code != "" {
				checkCode(p, f+"code", pt.Code)
			}
			if pt.Quantity.check(p, f+"quantity", true) && pt.Quantity.isZero() {
				p.add(f+"quantity", "must be greater than 0")
			}
		}
	}
	checkText(p, prefix+"fault_description", s.FaultDescription, false, maxText)
	checkText(p, prefix+"emission_waiver", s.EmissionWaiver, false, maxText)
	s.TotalCost.check(p, prefix+"total_cost", false)
}

// Date is a calendar date, "YYYY-MM-DD".
type Date string

// Compact returns the date as "yyyyMMdd", the health-record upload form;
// "" when the date is not valid.
func (d Date) Compact() string {
	t, err := time.Parse(dateLayout, string(d))
	if err != nil {
		return ""
	}
	return t.Format(compactDateForm)
}

func (d Date) check(p *problems, field string) (time.Time, bool) {
	if d == "" {
		p.add(field, "is required (YYYY-MM-DD)")
		return time.Time{}, false
	}
	t, err := time.Parse(dateLayout, string(d))
	if err != nil || t.Year() < 2000 {
		p.add(field, "must be a date YYYY-MM-DD from 2000 on: %q", clip(string(d)))
		return time.Time{}, false
	}
	return t, true
}

// Decimal is a non-negative decimal number kept as its exact text, for
// working hours and quantities: up to 6 digits before and 3 after the point,
// no sign or exponent ("1.5", "2", "0.25"). In JSON it is written as a string
// and read from a string or a number.
type Decimal string

// UnmarshalJSON accepts a JSON number or string and keeps its text; the
// format is checked by validation, which names the field.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*d = Decimal(b)
	default:
		return &json.UnmarshalTypeError{Value: "non-number", Type: reflect.TypeFor[Decimal]()}
	}
	return nil
}

func (d Decimal) check(p *problems, field string, required bool) bool {
	s := string(d)
	if s == "" {
		if required {
			p.add(field, "is required (a decimal number such as 1.5)")
		}
		return false
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !isDigits(intPart, len(intPart)) || len(intPart) > maxDecimalInt || len(intPart) == 0 ||
		hasPoint && (!isDigits(frac, len(frac)) || len(frac) == 0 || len(frac) > maxDecimalFrac) {
		p.add(field, "must be a decimal number >= 0 with at most %d digits before and %d after the point: %q",
			maxDecimalInt, maxDecimalFrac, clip(s))
		return false
	}
	return true
}

func (d Decimal) isZero() bool { return strings.Trim(string(d), "0.") == "" }

// checkJobID checks a job id (the alphabet of record.ValidJob, never empty).
func checkJobID(p *problems, field, s string) {
	if !validToken(s, maxJobIDLength, "._:/-") {
		p.add(field, "must be 1 to %d characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit: %q",
			maxJobIDLength, clip(s))
	}
}

// ValidBay reports whether s is a valid bay id: 1 to 32 characters of
// A-Z a-z 0-9 . _ -, starting with a letter or digit.
func ValidBay(s string) error {
	var p problems
	checkBay(&p, "bay", s)
	return p.err()
}

func checkBay(p *problems, field, s string) {
	if !validToken(s, maxBay, "._-") {
		p.add(field, "must be 1 to %d characters of A-Z a-z 0-9 . _ - starting with a letter or digit: %q",
			maxBay, clip(s))
	}
}

func validToken(s string, maxLen int, extra string) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if i == 0 || strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// checkCode checks a code such as a settlement number or a part number:
// 1 to 64 printable ASCII characters without spaces.
func checkCode(p *problems, field, s string) {
	if s == "" {
		p.add(field, "is required")
		return
	}
	if len(s) > maxCode {
		p.add(field, "must be at most %d characters, got %d", maxCode, len(s))
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			p.add(field, "must be printable ASCII without spaces: %q", clip(s))
			return
		}
	}
}

// checkTechnician checks a technician id: 1 to 32 letters, digits and
// . _ - @ (letters of any script).
func checkTechnician(p *problems, field, s string) {
	if s == "" {
		p.addErr(field, ErrNoTechnician, "is required")
		return
	}
	n := 0
	for _, r := range s {
		n++
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)) || r == utf8.RuneError {
			p.add(field, "must be letters, digits and . _ - @ only: %q", clip(s))
			return
		}
	}
	if n > maxTechnician {
		p.add(field, "must be at most %d characters, got %d", maxTechnician, n)
	}
}

func checkMileage(p *problems, field string, km int) {
	if km < 1 || km > maxMileageKM {
		p.add(field, "must be the odometer reading in km, 1 to %d: %d", maxMileageKM, km)
	}
}

// checkEnum checks that s is one of allowed ("" passes unless required).
func checkEnum(p *problems, field, s string, allowed []string, required bool) {
	if s == "" && !required {
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	p.add(field, "must be one of %s: %q", strings.Join(allowed, ", "), clip(s))
}

// checkLine checks one line of text: valid UTF-8, no control characters,
// no leading or trailing spaces, at most max characters.
func checkLine(p *problems, field, s string, required bool, max int) {
	if !checkChars(p, field, s, required, max, false) {
		return
	}
	if strings.TrimSpace(s) != s {
		p.add(field, "must not begin or end with spaces: %q", clip(s))
	}
}

// checkText checks free text, which may span lines (\n and \t allowed).
func checkText(p *problems, field, s string, required bool, max int) {
	checkChars(p, field, s, required, max, true)
}

func checkChars(p *problems, field, s string, required bool, max int, multiline bool) bool {
	if strings.TrimSpace(s) == "" {
		if required {
			p.add(field, "is required")
			return false
		}
		if s != "" {
			p.add(field, "must not be only spaces")
		}
		return false
	}
	if !utf8.ValidString(s) {
		p.add(field, "must be valid UTF-8")
		return false
	}
	n := 0
	for _, r := range s {
		n++
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			p.add(field, "must not contain the control character %U", r)
			return false
		}
	}
	if n > max {
		p.add(field, "must be at most %d characters, got %d", max, n)
		return false
	}
	return true
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
