package healthrecord

import (
	"errors"
	"strings"
	"testing"
)

func TestGuangdong(t *testing.T) {
	c := readExample(t)
	r, err := FromJob(c, companyName)
	if err != nil {
		t.Fatal(err)
	}
	r.PlateColor = "yellow_green"
	v, err := Guangdong{}.Upload(r)
	if err != nil {
		t.Fatal(err)
	}
	b := v.(GuangdongBody)
	if b.VehiclePlateColor != "黄绿" || b.VIN != r.VIN || b.CostListCode != r.SettlementNo || b.RepairMileage == "" ||
		len(b.RepairProjectList) != len(r.Projects) || len([]rune(b.VehiclePartsList[0].PartsName)) > 50 {
		t.Fatalf("body %+v", b)
	}
	r.PlateColor = ""
	if _, err := (Guangdong{}).Upload(r); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "plate colour") {
		t.Fatalf("without a plate colour: %v", err)
	}
}

func TestStaged(t *testing.T) {
	c := readExample(t)
	r, err := FromJob(c, companyName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Staged{}).Upload(r); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "fuel type") {
		t.Fatalf("without the shop's codes: %v", err)
	}
	d := Staged{FuelType: "A", NatureOfUse: "01", ServiceTypes: map[string]string{"emission_repair": "M1", "repair": "R1"}}
	if _, err := d.Upload(r); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "total cost") {
		t.Fatalf("without the total cost: %v", err)
	}
	r.TotalCost = "1280.50"
	v, err := d.Upload(r)
	if err != nil {
		t.Fatal(err)
	}
	u := v.(StagedUpload)
	if u.Intake.OrderCode != c.ID || u.Intake.ServiceType != "M1" || u.Intake.TestNo != c.TestNo || u.Settlement.TotalCost != "1280.50" ||
		u.Items.OrderCode != c.ID || len(u.Items.Items) != len(r.Projects) || u.Settlement.PayTime != c.ClosedAt.In(ChinaTime).Format(StagedTimeLayout) ||
		u.Intake.RepairTime != c.OpenedAt.In(ChinaTime).Format(StagedTimeLayout) {
		t.Fatalf("upload %+v", u)
	}
}
