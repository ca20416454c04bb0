package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/check"
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

// CheckScanPhase adds to p the problem of an optional scan phase.
func CheckScanPhase(p *check.Problems, field string, ph Phase) {
	check.Enum(p, field, string(ph), scanPhases, false)
}

// CheckReadingPhase adds to p the problem of an optional reading phase
// (intake is for scans only).
func CheckReadingPhase(p *check.Problems, field string, ph Phase) {
	check.Enum(p, field, string(ph), readingPhases, false)
}

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
	maxPlate = 16 // characters
	// MaxText is the longest free text (complaint, fault description,
	// note, reason), in characters.
	MaxText         = 2000
	maxName         = 200 // item and part names; the upload truncates further
	maxItems        = 200
	maxParts        = 500
	maxMileageKM    = 9_999_999
	maxDecimalInt   = 6 // digits before the point
	maxDecimalFrac  = 3 // digits after the point
	shopCodeDigits  = 15
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
	var p check.Problems
	o.check(&p, "")
	return p.Err()
}

func (o *Opening) check(p *check.Problems, prefix string) {
	if !check.Digits(o.Shop, shopCodeDigits) {
		p.Add(prefix+"shop", "must be the %d-digit company code: %q", shopCodeDigits, check.Clip(o.Shop))
	}
	o.Check(p, prefix)
}

// Check adds to p the problems of every field but Shop (which an open_job
// command does not carry: it is the box's), each named prefix+field.
func (o *Opening) Check(p *check.Problems, prefix string) {
	check.JobID(p, prefix+"job_id", o.ID)
	check.Enum(p, prefix+"type", string(o.Type), types, true)
	check.Line(p, prefix+"plate", o.Plate, true, maxPlate)
	check.Enum(p, prefix+"plate_color", string(o.PlateColor), plateColors, false)
	if o.VIN != "" {
		if err := obd.ValidateVIN(o.VIN); err != nil {
			p.Add(prefix+"vin", "is not a valid VIN: %v", err)
		}
	}
	checkMileage(p, prefix+"mileage_km", o.MileageKM)
	check.Text(p, prefix+"complaint", o.Complaint, true, MaxText)
	check.Technician(p, prefix+"technician", o.Technician)
	switch {
	case o.Type == TypeEmissionRepair && o.TestNo == "":
		p.Add(prefix+"test_no", "is required for emission_repair jobs (the failed inspection report number)")
	case o.Type != TypeEmissionRepair && o.TestNo != "":
		p.Add(prefix+"test_no", "is only allowed for emission_repair jobs")
	case o.TestNo != "":
		check.Code(p, prefix+"test_no", o.TestNo)
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
	// EmissionWaiver is the override of an emission_repair job's close
	// rules, with the reason: the job closes without a before or an after
	// test or reading, or although its last after_repair emission test did
	// not pass (for example: the analyzer was out of service and the
	// inspection station re-tests). EmissionWaiverBy is the technician who
	// takes responsibility; the two go together.
	EmissionWaiver   string `json:"emission_waiver,omitempty"`
	EmissionWaiverBy string `json:"emission_waiver_by,omitempty"`
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

// Validate checks the settlement on its own (Manager.CloseJob also checks it
// against the job).
func (s *Settlement) Validate() error {
	var p check.Problems
	s.Check(&p, "")
	return p.Err()
}

// Check adds to p the problems of every field, each named prefix+field.
func (s *Settlement) Check(p *check.Problems, prefix string) {
	check.Code(p, prefix+"settlement_no", s.SettlementNo)
	settle, okS := s.SettleDate.check(p, prefix+"settle_date")
	repair, okR := s.RepairDate.check(p, prefix+"repair_date")
	if okS && okR && repair.After(settle) {
		p.Add(prefix+"repair_date", "must not be after settle_date (%s > %s)", s.RepairDate, s.SettleDate)
	}
	switch {
	case len(s.Items) == 0:
		p.Add(prefix+"items", "must list at least one repair item")
	case len(s.Items) > maxItems:
		p.Add(prefix+"items", "must list at most %d repair items, got %d", maxItems, len(s.Items))
	default:
		for i, it := range s.Items {
			f := fmt.Sprintf("%sitems[%d].", prefix, i)
			check.Line(p, f+"name", it.Name, true, maxName)
			it.WorkingHours.check(p, f+"working_hours", true)
		}
	}
	if len(s.Parts) > maxParts {
		p.Add(prefix+"parts", "must list at most %d parts, got %d", maxParts, len(s.Parts))
	} else {
		for i, pt := range s.Parts {
			f := fmt.Sprintf("%sparts[%d].", prefix, i)
			check.Line(p, f+"name", pt.Name, true, maxName)
			if pt.Code != "" {
				check.Code(p, f+"code", pt.Code)
			}
			if pt.Quantity.check(p, f+"quantity", true) && pt.Quantity.isZero() {
				p.Add(f+"quantity", "must be greater than 0")
			}
		}
	}
	check.Text(p, prefix+"fault_description", s.FaultDescription, false, MaxText)
	check.Text(p, prefix+"emission_waiver", s.EmissionWaiver, false, MaxText)
	switch {
	case s.EmissionWaiver != "" && s.EmissionWaiverBy == "":
		p.Add(prefix+"emission_waiver_by", "is required with emission_waiver: the technician who takes responsibility for the override")
	case s.EmissionWaiverBy != "" && s.EmissionWaiver == "":
		p.Add(prefix+"emission_waiver", "is required with emission_waiver_by: the reason for the override")
	case s.EmissionWaiverBy != "":
		check.Technician(p, prefix+"emission_waiver_by", s.EmissionWaiverBy)
	}
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

func (d Date) check(p *check.Problems, field string) (time.Time, bool) {
	if d == "" {
		p.Add(field, "is required (YYYY-MM-DD)")
		return time.Time{}, false
	}
	t, err := time.Parse(dateLayout, string(d))
	if err != nil || t.Year() < 2000 {
		p.Add(field, "must be a date YYYY-MM-DD from 2000 on: %q", check.Clip(string(d)))
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

func (d Decimal) check(p *check.Problems, field string, required bool) bool {
	s := string(d)
	if s == "" {
		if required {
			p.Add(field, "is required (a decimal number such as 1.5)")
		}
		return false
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !check.Digits(intPart, len(intPart)) || len(intPart) > maxDecimalInt || len(intPart) == 0 ||
		hasPoint && (!check.Digits(frac, len(frac)) || len(frac) == 0 || len(frac) > maxDecimalFrac) {
		p.Add(field, "must be a decimal number >= 0 with at most %d digits before and %d after the point: %q",
			maxDecimalInt, maxDecimalFrac, check.Clip(s))
		return false
	}
	return true
}

func (d Decimal) isZero() bool { return strings.Trim(string(d), "0.") == "" }

func checkMileage(p *check.Problems, field string, km int) {
	if km < 1 || km > maxMileageKM {
		p.Add(field, "must be the odometer reading in km, 1 to %d: %d", maxMileageKM, km)
	}
}
