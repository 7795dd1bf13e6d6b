package record

// Topics lists the topic suffixes Harrier creates before its roles start.
var Topics = []string{TopicLogs, TopicMetrics, TopicScans, TopicInventory, TopicAlerts, TopicDeadLetters}
