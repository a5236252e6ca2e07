// ensure_volume: two goroutines each "ensure" the volume `data` exists, with godo, against
// $DIGITALOCEAN_API_URL; the Go twin of ensure_volume.py.
//
// The buggy way lists the volumes and creates `data` when the list does not show it: when both
// goroutines list before either creates, the second create is refused (409, the name is taken)
// and that goroutine fails. `-fixed` creates at once and takes "already exists" as success.
//
// Build it with Debian's Go and godo (GO111MODULE=off GOPATH=/usr/share/gocode go build), then
// run it under `dosim test -- ./ensure_volume [-fixed]`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"
)

// actor names each goroutine's requests for dosim test's timeline and gate.
type actor struct {
	name string
	next http.RoundTripper
}

func (a actor) RoundTrip(request *http.Request) (*http.Response, error) {
	request = request.Clone(request.Context())
	request.Header.Set("x-dosim-actor", a.name)
	return a.next.RoundTrip(request)
}

func client(name string) *godo.Client {
	ctx := context.Background()
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: os.Getenv("DIGITALOCEAN_TOKEN")})
	base := oauth2.NewClient(ctx, token)
	base.Transport = actor{name: name, next: base.Transport}
	c, err := godo.New(base, godo.SetBaseURL(os.Getenv("DIGITALOCEAN_API_URL")+"/"))
	if err != nil {
		panic(err)
	}
	return c
}

func create(c *godo.Client) error {
	_, _, err := c.Storage.CreateVolume(context.Background(), &godo.VolumeCreateRequest{
		Name: "data", Region: "nyc3", SizeGigaBytes: 10,
	})
	return err
}

func ensureBuggy(c *godo.Client) error {
	volumes, _, err := c.Storage.ListVolumes(context.Background(), &godo.ListVolumeParams{Name: "data", Region: "nyc3"})
	if err != nil {
		return err
	}
	if len(volumes) == 0 {
		return create(c)
	}
	return nil
}

func ensureFixed(c *godo.Client) error {
	err := create(c)
	var refused *godo.ErrorResponse
	// 409: a volume of that name already exists in the region; someone else made it.
	if errors.As(err, &refused) && (refused.Response.StatusCode == 409 || refused.Response.StatusCode == 422) {
		return nil
	}
	return err
}

func main() {
	fixed := flag.Bool("fixed", false, "create at once and take already-exists as success")
	flag.Parse()
	ensure := ensureBuggy
	if *fixed {
		ensure = ensureFixed
	}
	var wait sync.WaitGroup
	failures := make(chan string, 2)
	for _, name := range []string{"worker-1", "worker-2"} {
		wait.Add(1)
		go func(name string) {
			defer wait.Done()
			if err := ensure(client(name)); err != nil {
				failures <- fmt.Sprintf("%s: %v", name, err)
			}
		}(name)
	}
	wait.Wait()
	close(failures)
	failed := false
	for failure := range failures {
		fmt.Fprintln(os.Stderr, failure)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}
