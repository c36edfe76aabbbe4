package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// packageDirs are the directories of the repository that hold Go packages (test files aside),
// deploy's module included.
func packageDirs(t *testing.T) []string {
	t.Helper()
	root := filepath.Join("..", "..")
	seen := map[string]bool{}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") && !seen[filepath.Dir(p)] {
			seen[filepath.Dir(p)] = true
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if len(dirs) < 5 {
		t.Fatalf("found only %d package directories from %s", len(dirs), root)
	}
	return dirs
}

// parsePackages parses the non-test files of dir.
func parsePackages(t *testing.T, dir string, mode parser.Mode) map[string]*ast.Package {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, mode)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// Every package says what it owns in a package comment (house style).
func TestEveryPackageHasADocComment(t *testing.T) {
	t.Parallel()
	for _, dir := range packageDirs(t) {
		for name, pkg := range parsePackages(t, dir, parser.ParseComments|parser.PackageClauseOnly) {
			documented := false
			for _, f := range pkg.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					documented = true
				}
			}
			if !documented {
				t.Errorf("package %s (%s) has no package comment", name, dir)
			}
		}
	}
}

// Every exported identifier of a library package has a doc comment, and every exported field
// one saying what happens when it is left unset (house style).
func TestEverythingExportedIsDocumented(t *testing.T) {
	t.Parallel()
	for _, dir := range packageDirs(t) {
		for name, pkg := range parsePackages(t, dir, parser.ParseComments) {
			if name == "main" {
				continue
			}
			for file, f := range pkg.Files {
				for _, miss := range undocumented(f) {
					t.Errorf("%s: %s has no doc comment", file, miss)
				}
			}
		}
	}
}

// undocumented lists f's exported declarations and fields that have no comment.
func undocumented(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && d.Doc == nil && (d.Recv == nil || receiverExported(d.Recv) && !wellKnownMethod[d.Name.Name]) {
				out = append(out, "func "+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && d.Doc == nil {
						out = append(out, "type "+s.Name.Name)
					}
					if st, ok := s.Type.(*ast.StructType); ok {
						for _, fl := range st.Fields.List {
							for _, n := range fl.Names {
								if n.IsExported() && fl.Doc == nil && fl.Comment == nil {
									out = append(out, "field "+s.Name.Name+"."+n.Name)
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && d.Doc == nil {
							out = append(out, n.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// wellKnownMethod are methods whose meaning the standard library's interfaces give.
var wellKnownMethod = map[string]bool{"String": true, "Error": true, "Unwrap": true, "ServeHTTP": true}

func receiverExported(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}
