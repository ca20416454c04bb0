package main

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxSynopsis is the longest first sentence of a package doc.
const maxSynopsis = 100

// TestPackageDocs: every package of the module says what it is for, in a
// first sentence that fits one line.
func TestPackageDocs(t *testing.T) {
	root := filepath.Join("..", "..")
	dirs := map[string]bool{} // dir -> has a package doc
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		dirs[dir] = dirs[dir] || (f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "")
		if f.Doc != nil {
			// The synopsis go doc and pkg.go.dev show: one line.
			if syn := new(doc.Package).Synopsis(f.Doc.Text()); len(syn) > maxSynopsis {
				t.Errorf("%s: the package doc's first sentence is %d characters, want at most %d (a go doc summary line; say the rest after it):\n%s",
					path, len(syn), maxSynopsis, syn)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 20 {
		t.Fatalf("found only %d packages under %s", len(dirs), root)
	}
	for dir, ok := range dirs {
		if !ok {
			t.Errorf("package %s has no package doc comment", dir)
		}
	}
}

// TestDriverExamples: each driver package a reader starts from has a
// package Example (run by go test, shown by go doc).
func TestDriverExamples(t *testing.T) {
	for _, pkg := range []string{"canbus", "isotp", "obd", "elm327", "j1939", "analyzer"} {
		dir := filepath.Join("..", "..", "drivers", pkg)
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		found := false
		for _, f := range files {
			pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range pf.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example" && fn.Recv == nil {
					found = found || hasOutput(pf, fn)
				}
			}
		}
		if !found {
			t.Errorf("drivers/%s has no package Example with an Output comment", pkg)
		}
	}
}

// hasOutput reports whether fn's body holds an "Output:" comment (so that
// go test runs and checks it).
func hasOutput(f *ast.File, fn *ast.FuncDecl) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > fn.Body.Lbrace && cg.End() < fn.Body.Rbrace && strings.HasPrefix(strings.TrimSpace(cg.Text()), "Output:") {
			return true
		}
	}
	return false
}
