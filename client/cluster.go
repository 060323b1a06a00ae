package client

import (
	"context"
	"net/url"

	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// Cluster returns GET /cluster of the node the client talks to (cluster
// mode): its raft role and term, the leader and the members.
func (c *Client) Cluster(ctx context.Context) (wire.ClusterNode, error) {
	var v wire.ClusterNode
	err := c.decode(ctx, route{method: fasthttp.MethodGet, path: "/cluster"}, nil, &v)
	return v, err
}

// AddNode adds a voter to the cluster (POST /cluster/nodes): its id and
// its API address, host:port, raft listening on the next port. The node
// should be running, started without --cluster-bootstrap; it catches up
// from the leader. The answer is the leader's GET /cluster once the new
// membership is committed.
func (c *Client) AddNode(ctx context.Context, id, api string) (wire.ClusterNode, error) {
	var v wire.ClusterNode
	err := c.decode(ctx, route{method: fasthttp.MethodPost, path: "/cluster/nodes"}, func(b []byte) []byte {
		b = appendField(b, "id", id)
		return appendField(b, "api", api)
	}, &v)
	return v, err
}

// RemoveNode takes a member out of the cluster (DELETE /cluster/nodes/:id);
// stop its process afterwards.
func (c *Client) RemoveNode(ctx context.Context, id string) (wire.ClusterNode, error) {
	var v wire.ClusterNode
	err := c.decode(ctx, route{method: fasthttp.MethodDelete, path: "/cluster/nodes/" + url.PathEscape(id)}, nil, &v)
	return v, err
}
