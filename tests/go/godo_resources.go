// godo_resources drives dosim serve with godo, DigitalOcean's Go client, over the resources
// provisioning code touches beside droplets: tags, SSH keys, VPCs, projects, domains and records,
// firewalls and load balancers. It reads DIGITALOCEAN_API_URL and DIGITALOCEAN_TOKEN, stops at
// the first unexpected answer with a message, and prints "ok" when every check held.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"
)

func must(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func expect(what string, ok bool) {
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: not as expected\n", what)
		os.Exit(1)
	}
}

func main() {
	ctx := context.Background()
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: os.Getenv("DIGITALOCEAN_TOKEN")})
	client, err := godo.New(oauth2.NewClient(ctx, token), godo.SetBaseURL(os.Getenv("DIGITALOCEAN_API_URL")+"/"))
	must("client", err)

	droplet, _, err := client.Droplets.Create(ctx, &godo.DropletCreateRequest{
		Name: "web-1", Region: "nyc3", Size: "s-1vcpu-1gb",
		Image: godo.DropletCreateImage{Slug: "ubuntu-22-04-x64"},
	})
	must("droplet create", err)

	// Tags: create, tag the droplet, read the count back.
	_, _, err = client.Tags.Create(ctx, &godo.TagCreateRequest{Name: "claimed"})
	must("tag create", err)
	_, err = client.Tags.TagResources(ctx, "claimed", &godo.TagResourcesRequest{
		Resources: []godo.Resource{{ID: fmt.Sprint(droplet.ID), Type: godo.DropletResourceType}},
	})
	must("tag resources", err)
	tag, _, err := client.Tags.Get(ctx, "claimed")
	must("tag get", err)
	expect("tag count", tag.Resources.Count == 1)

	// SSH keys.
	key, _, err := client.Keys.Create(ctx, &godo.KeyCreateRequest{
		Name:      "ci",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ci",
	})
	must("key create", err)
	got, _, err := client.Keys.GetByFingerprint(ctx, key.Fingerprint)
	must("key by fingerprint", err)
	expect("key id", got.ID == key.ID)
	_, err = client.Keys.DeleteByID(ctx, key.ID)
	must("key delete", err)

	// VPCs: the region's default exists; a new one is listed.
	vpc, _, err := client.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "apps", RegionSlug: "nyc3", IPRange: "10.250.0.0/24"})
	must("vpc create", err)
	vpcs, _, err := client.VPCs.List(ctx, nil)
	must("vpc list", err)
	expect("vpc listed", len(vpcs) > 1)
	_, err = client.VPCs.Delete(ctx, vpc.ID)
	must("vpc delete", err)

	// Projects: the droplet moves to a new project.
	project, _, err := client.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "staging", Purpose: "Web Application", Environment: "Staging"})
	must("project create", err)
	assigned, _, err := client.Projects.AssignResources(ctx, project.ID, fmt.Sprintf("do:droplet:%d", droplet.ID))
	must("project assign", err)
	expect("project assigned", len(assigned) == 1)

	// Domains and records: two A records may share a name.
	_, _, err = client.Domains.Create(ctx, &godo.DomainCreateRequest{Name: "example.com"})
	must("domain create", err)
	for i := 0; i < 2; i++ {
		_, _, err = client.Domains.CreateRecord(ctx, "example.com", &godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "203.0.113.10", TTL: 1800})
		must("record create", err)
	}
	records, _, err := client.Domains.Records(ctx, "example.com", nil)
	must("records", err)
	www := 0
	for _, record := range records {
		if record.Type == "A" && record.Name == "www" {
			www++
		}
	}
	expect("two www records", www == 2)

	// Firewalls: created, then the droplet added.
	firewall, _, err := client.Firewalls.Create(ctx, &godo.FirewallRequest{
		Name:         "web",
		InboundRules: []godo.InboundRule{{Protocol: "tcp", PortRange: "443", Sources: &godo.Sources{Addresses: []string{"0.0.0.0/0"}}}},
	})
	must("firewall create", err)
	_, err = client.Firewalls.AddDroplets(ctx, firewall.ID, droplet.ID)
	must("firewall add droplets", err)
	firewall, _, err = client.Firewalls.Get(ctx, firewall.ID)
	must("firewall get", err)
	expect("firewall droplet", len(firewall.DropletIDs) == 1)

	// Load balancers: new, then active; the droplet joins once it is.
	lb, _, err := client.LoadBalancers.Create(ctx, &godo.LoadBalancerRequest{
		Name: "web-lb", Region: "nyc3",
		ForwardingRules: []godo.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}},
	})
	must("lb create", err)
	expect("lb new", lb.Status == "new")
	deadline := time.Now().Add(30 * time.Second)
	for lb.Status != "active" {
		expect("lb active in time", time.Now().Before(deadline))
		time.Sleep(20 * time.Millisecond)
		lb, _, err = client.LoadBalancers.Get(ctx, lb.ID)
		must("lb get", err)
	}
	expect("lb address", lb.IP != "")
	_, err = client.LoadBalancers.AddDroplets(ctx, lb.ID, droplet.ID)
	must("lb add droplets", err)
	lb, _, err = client.LoadBalancers.Get(ctx, lb.ID)
	must("lb get", err)
	expect("lb droplet", len(lb.DropletIDs) == 1 && lb.DropletIDs[0] == droplet.ID)
	_, err = client.LoadBalancers.Delete(ctx, lb.ID)
	must("lb delete", err)

	fmt.Println("ok")
}
