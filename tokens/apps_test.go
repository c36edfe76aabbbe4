package tokens_test

import (
	"testing"

	"github.com/mdegate/mdegate/tokens"
)

func TestAppsRoutesTenantsToTheirSource(t *testing.T) {
	newSource := func(id string) *tokens.Source {
		s, err := tokens.New(tokens.Options{Authority: "https://127.0.0.1:1", ClientID: id, Secret: "s", Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	def, other := newSource(clientID), newSource("7b2d4f6a-8c0e-4a1b-9c3d-5e7f9a1b3c5d")
	apps := tokens.NewApps(def, map[string]*tokens.Source{tenantB: other, tenantN: other}, nil)
	defer apps.Close() // closes each Source once
	for _, tt := range []struct {
		tenant string
		want   *tokens.Source
	}{{tenantA, def}, {tenantB, other}, {tenantN, other}, {"unknown", def}} {
		if got := apps.Source(tt.tenant); got != tt.want {
			t.Errorf("Source(%s) is not the expected app's", tt.tenant)
		}
	}
	single := tokens.NewApps(def, nil, []*tokens.Source{def})
	if single.Source(tenantB) != def {
		t.Error("with one app, every tenant gets it")
	}
}
