package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kg "github.com/segmentio/kafka-go"
)

// GroupLag returns how many messages of the topics (suffixes) the consumer
// group has not committed yet, summed over every partition. A partition
// without a committed offset counts from its first offset.
func GroupLag(ctx context.Context, brokers []string, prefix, group string, suffixes ...string) (int64, error) {
	transport, err := processSecurity.transport()
	if err != nil {
		return 0, err
	}
	client := &kg.Client{Addr: kg.TCP(brokers...), Timeout: 10 * time.Second, Transport: transport}
	var names []string
	for _, s := range suffixes {
		names = append(names, prefix+s)
	}
	meta, err := client.Metadata(ctx, &kg.MetadataRequest{Topics: names})
	if err != nil {
		return 0, fmt.Errorf("read metadata of %s: %w", strings.Join(names, ","), err)
	}
	fetch := &kg.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
	list := &kg.ListOffsetsRequest{Topics: map[string][]kg.OffsetRequest{}}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return 0, fmt.Errorf("read metadata of topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			fetch.Topics[t.Name] = append(fetch.Topics[t.Name], p.ID)
			list.Topics[t.Name] = append(list.Topics[t.Name], kg.FirstOffsetOf(p.ID), kg.LastOffsetOf(p.ID))
		}
	}
	committed, err := client.OffsetFetch(ctx, fetch)
	if err != nil {
		return 0, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	if committed.Error != nil {
		// A group that never committed has no offsets yet: all is lag.
		if !errors.Is(committed.Error, kg.GroupIdNotFound) {
			return 0, fmt.Errorf("fetch offsets of group %s: %w", group, committed.Error)
		}
		committed.Topics = nil
	}
	ends, err := client.ListOffsets(ctx, list)
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s: %w", strings.Join(names, ","), err)
	}
	var lag int64
	for topic, parts := range ends.Topics {
		done := map[int]int64{}
		for _, c := range committed.Topics[topic] {
			done[c.Partition] = c.CommittedOffset
		}
		for _, p := range parts {
			if p.Error != nil {
				return 0, fmt.Errorf("list offsets of %s/%d: %w", topic, p.Partition, p.Error)
			}
			from, ok := done[p.Partition]
			if !ok || from < p.FirstOffset {
				from = p.FirstOffset
			}
			if p.LastOffset > from {
				lag += p.LastOffset - from
			}
		}
	}
	return lag, nil
}
