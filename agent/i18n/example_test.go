package i18n_test

import (
	"fmt"

	"github.com/bayagent/bayagent/agent/i18n"
)

// A message is looked up by key in the reader's language, with its
// arguments by name.
func Example() {
	lang := i18n.Negotiate("zh-CN,zh;q=0.9,en;q=0.8", i18n.English)
	fmt.Println(lang)
	fmt.Println(i18n.Text(lang, "reply.unknown_command", "cmd", "reboot"))
	fmt.Println(i18n.Text(i18n.English, "reply.unknown_command", "cmd", "reboot"))
	// Output:
	// zh-CN
	// 不支持的命令“reboot”。
	// Unknown command "reboot".
}

// A --lang flag value or a locale names a language.
func ExampleParseLang() {
	for _, s := range []string{"zh", "en_US.UTF-8", "fr"} {
		l, err := i18n.ParseLang(s)
		fmt.Println(l, err)
	}
	// Output:
	// zh-CN <nil>
	// en <nil>
	//  i18n: unknown language "fr" (want en or zh-CN)
}
