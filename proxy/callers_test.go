package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// Handler.Callers reports each caller's calls in flight and its refusals (not allowed, a
// tenant outside its list, over its cap), for the status page, without allocating.
// Not parallel: AllocsPerRun refuses to run in a parallel test.
func TestCallersLoad(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	defer up.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before up.Close, which waits for the handler
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: up.URL},
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: idContoso}, {Name: "fabrikam", ID: idFabrikam}}})
	if err != nil {
		t.Fatal(err)
	}
	pool := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h := newHandler(t, proxy.Options{Routes: routes, Tokens: fixedTokens{}, Transport: proxy.NewTransport(pool, 0),
		Clients: []proxy.Client{
			{Name: "soc", KeySHA256: keyHash("k1"), Tenants: []string{"contoso"}, MaxConcurrent: 1},
			{Name: "idle", KeySHA256: keyHash("k2"), Tenants: []string{"*"}, MaxConcurrent: -1},
		}})
	gw := httptest.NewServer(h)
	defer gw.Close()
	call := func(method, tenant string) int {
		req, _ := http.NewRequest(method, gw.URL+"/api/alerts", nil)
		req.Header.Set("X-Api-Key", "k1")
		req.Header.Set("X-Tenant-ID", tenant)
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	done := make(chan int)
	go func() { done <- call("GET", "contoso") }()
	<-entered
	for _, c := range []struct {
		method, tenant string
		want           int
	}{{"GET", "contoso", 429}, {"GET", "fabrikam", 403}, {"DELETE", "contoso", 403}} {
		if got := call(c.method, c.tenant); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.tenant, got, c.want)
		}
	}
	dst := make([]proxy.CallerLoad, 0, 4)
	want := []proxy.CallerLoad{{Name: "soc", InFlight: 1, Refusals: 3}, {Name: "idle"}}
	if got := h.Callers(dst); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { h.Callers(dst[:0]) }); n != 0 {
		t.Errorf("Callers allocates %v times", n)
	}
	unblock()
	if got := <-done; got != 200 {
		t.Errorf("the call in flight: %d", got)
	}
	if got := h.Callers(nil); got[0].InFlight != 0 {
		t.Errorf("after the call: %+v", got)
	}
}
