package lang

import "testing"

func TestIsChinese(t *testing.T) {
	for tag, want := range map[string]bool{
		"zh": true, "zh-CN": true, "ZH-cn": true, "zh_CN": true, "zh-Hans": true,
		"zh-Hans-CN": true, "zh-TW": true, "zh-hans": true,
		"": false, English: false, "en-US": false, "z": false,
		"zhx": false, "zho": false, "fr-zh": false, " zh": false,
	} {
		if got := IsChinese(tag); got != want {
			t.Errorf("IsChinese(%q) = %v, want %v", tag, got, want)
		}
	}
}
