package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/mdegate/mdegate/internal/config"
)

// Reload triggers: SIGHUP, a change of the config file (watched), and, for tests,
// gatewayOptions.Reload. All of them end in gateway.reload, which runs on the run goroutine,
// one at a time.

// watchDebounce lets an editor or a ConfigMap swap finish writing before the file is read.
const watchDebounce = 200 * time.Millisecond

// configWatcher watches the config file's directory, not the file: editors replace a file by
// renaming a new one over it, and Kubernetes swaps a ConfigMap's ..data symlink, neither of
// which a watch on the file itself would see. Any event in the directory (re)arms a debounce
// timer; when it fires, the file is reloaded only if its content changed.
type configWatcher struct {
	w     *fsnotify.Watcher
	timer *time.Timer
}

func newConfigWatcher(path string) (*configWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch config: %w", err)
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("watch config: %w", err)
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &configWatcher{w: w, timer: t}, nil
}

// events, errors and fired are nil channels for a nil watcher, so a select skips them.
func (cw *configWatcher) events() <-chan fsnotify.Event {
	if cw == nil {
		return nil
	}
	return cw.w.Events
}

func (cw *configWatcher) errors() <-chan error {
	if cw == nil {
		return nil
	}
	return cw.w.Errors
}

func (cw *configWatcher) fired() <-chan time.Time {
	if cw == nil {
		return nil
	}
	return cw.timer.C
}

func (cw *configWatcher) arm() { cw.timer.Reset(watchDebounce) }

// close stops the watcher and waits for its goroutine (fsnotify's Close does).
func (cw *configWatcher) close() {
	if cw != nil {
		cw.timer.Stop()
		_ = cw.w.Close()
	}
}

// reload reads the config file again and swaps in what it builds: tenants, callers, regions,
// limits and log level at once. Requests running keep the generation they started with. The
// token source, and so every cached token, is kept unless the app credentials changed. A new
// listen address is opened before the old one stops accepting. Anything wrong leaves the
// running configuration in place. onlyIfChanged skips a file whose content is what was loaded.
func (gw *gateway) reload(onlyIfChanged bool) error {
	if gw.path == "" {
		gw.log.Warn().Msg("reload ignored: the configuration did not come from a file")
		return nil
	}
	cfg, sum, err := config.Load(gw.path)
	if onlyIfChanged && sum == gw.loadedSum {
		return nil
	}
	if err == nil {
		err = gw.apply(cfg)
	}
	if err != nil {
		gw.metrics.Reloaded(false)
		gw.reloads.refusedWith(err, gw.now())
		ev := gw.log.Error().Str("config", gw.path)
		if ps := configProblems(err); ps != nil {
			ev.Strs("problems", ps)
		} else {
			ev.Err(err)
		}
		ev.Msg("config reload refused") // the running configuration stays
		return err
	}
	gw.loadedSum = sum
	gw.reloads.applied()
	return nil
}

// configProblems are the problems of a configuration refused by config.Load, each with its
// key and line (they never quote a secret); nil when err is another error.
func configProblems(err error) []string {
	var ce *config.Error
	if !errors.As(err, &ce) {
		return nil
	}
	ps := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		ps[i] = p.String()
	}
	return ps
}

// apply swaps in cfg.
func (gw *gateway) apply(cfg *config.Config) error {
	old, oldLs := gw.cur.Load(), gw.ls.Load()
	ls := &listeners{main: oldLs.main, admin: oldLs.admin}
	var opened []*servedListener
	undo := func() {
		for _, sl := range opened {
			retire(sl)
		}
	}
	if cfg.Listen != old.cfg.Listen {
		sl, err := gw.listen(cfg.Listen)
		if err != nil {
			return err
		}
		ls.main = sl
		opened = append(opened, sl)
	}
	if cfg.AdminListen != old.cfg.AdminListen {
		ls.admin = nil
		if cfg.AdminListen != "" {
			sl, err := gw.listen(cfg.AdminListen)
			if err != nil {
				undo()
				return err
			}
			ls.admin = sl
			opened = append(opened, sl)
		}
	}
	g, err := gw.newGeneration(cfg, old)
	if err != nil {
		undo()
		return err
	}

	gw.cur.Store(g)
	gw.ls.Store(ls)
	if ls.main != oldLs.main {
		gw.serveOn(gw.srv, ls.main)
		retire(oldLs.main)
	}
	if ls.admin != oldLs.admin {
		if ls.admin != nil {
			gw.serveOn(gw.adminSrv, ls.admin)
		}
		retire(oldLs.admin)
	}
	old.release() // closed when its last request returns
	gw.forgetDrained()
	gw.metrics.Retain(g.routes.Tenants())
	gw.metrics.Reloaded(true)

	ev := gw.log.Info().Str("config", gw.path).Int("tenants", len(g.routes.Tenants())).
		Bool("tokens_kept", g.tokens == old.tokens).Str("listen", ls.main.Addr().String())
	if ls.admin != nil {
		ev.Str("admin_listen", ls.admin.Addr().String())
	}
	ev.Msg("config reloaded")
	for _, w := range cfg.Warnings() {
		gw.log.Warn().Msg(w)
	}
	gw.sink.set(cfg.Log) // after the line above, so a switch to warn still shows the reload
	return nil
}
