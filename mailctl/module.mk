$(eval $(call program,mailctl,mailctl,,))
